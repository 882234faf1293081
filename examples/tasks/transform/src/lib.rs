//! transform: a JSON transform a user would recognise, pricing an order.
//!
//! Input: `{"items": [{"name": "pen", "price": 1.5, "qty": 4}, ...], "tax_rate": 0.2, ...}`
//! (`tax_rate` optional, default 0; `qty` optional, default 1).
//! Output: the input with each item given a `line_total` (price × qty) and the
//! order given `item_count` (sum of qty), `subtotal`, `tax` and `total`; all
//! money amounts are rounded to cents. Other input fields are kept as they are.
//!
//! Fails with `InvalidOrder` when `items` is missing or not an array, or an item
//! lacks a numeric `price`, or has a negative or non-integer `qty`.
use stepbox_guest::{Context, TaskError, Value, json};

fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn handle(input: Value, _ctx: &Context) -> Result<Value, TaskError> {
    let invalid = |msg: String| TaskError::new("InvalidOrder", msg);
    let Value::Object(mut order) = input else {
        return Err(invalid("the input must be a JSON object".into()));
    };
    let tax_rate = match order.get("tax_rate") {
        None | Some(Value::Null) => 0.0,
        Some(v) => v.as_f64().ok_or_else(|| invalid("tax_rate must be a number".into()))?,
    };
    let Some(Value::Array(items)) = order.get_mut("items") else {
        return Err(invalid("items must be an array".into()));
    };
    let mut subtotal = 0.0;
    let mut item_count: u64 = 0;
    for (i, item) in items.iter_mut().enumerate() {
        let Value::Object(item) = item else {
            return Err(invalid(format!("items[{i}] must be an object")));
        };
        let price = item
            .get("price")
            .and_then(Value::as_f64)
            .ok_or_else(|| invalid(format!("items[{i}].price must be a number")))?;
        let qty = match item.get("qty") {
            None => 1,
            Some(q) => q
                .as_u64()
                .ok_or_else(|| invalid(format!("items[{i}].qty must be a non-negative integer")))?,
        };
        let line_total = cents(price * qty as f64);
        item.insert("line_total".into(), json!(line_total));
        subtotal += line_total;
        item_count += qty;
    }
    let subtotal = cents(subtotal);
    let tax = cents(subtotal * tax_rate);
    order.insert("item_count".into(), json!(item_count));
    order.insert("subtotal".into(), json!(subtotal));
    order.insert("tax".into(), json!(tax));
    order.insert("total".into(), json!(cents(subtotal + tax)));
    Ok(Value::Object(order))
}

stepbox_guest::export_task!(handle);

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context { remaining_time_ms: 1000, request_id: "r".into(), ..Context::default() }
    }

    #[test]
    fn prices_an_order() {
        let input = json!({"order_id": 7, "tax_rate": 0.2,
            "items": [{"name": "pen", "price": 1.5, "qty": 4}, {"name": "pad", "price": 2.25}]});
        let out = handle(input, &ctx()).unwrap();
        assert_eq!(out["order_id"], 7);
        assert_eq!(out["items"][0]["line_total"], 6.0);
        assert_eq!(out["items"][1]["line_total"], 2.25);
        assert_eq!(out["item_count"], 5);
        assert_eq!(out["subtotal"], 8.25);
        assert_eq!(out["tax"], 1.65);
        assert_eq!(out["total"], 9.9);
    }

    #[test]
    fn rejects_bad_orders() {
        for bad in [json!([]), json!({}), json!({"items": [{"qty": 1}]}), json!({"items": [{"price": 1, "qty": -1}]})] {
            assert_eq!(handle(bad, &ctx()).unwrap_err().error, "InvalidOrder");
        }
    }
}
