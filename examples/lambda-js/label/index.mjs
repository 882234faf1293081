// label: a Lambda-style Node.js handler (guest-sdk/js) that makes the packing
// label of one line item; the example workflow's Map runs it per item.
//
// Input: a priced line item ({"sku", "qty", "line_total", ...}).
// Output: the item with `label` added ("3 x SKU-1 (4.50)").
// An item without a sku fails with `InvalidItem`.

class InvalidItem extends Error {
  constructor(message) {
    super(message);
    this.name = 'InvalidItem';
  }
}

export const handler = async (item, context) => {
  if (typeof item.sku !== 'string') throw new InvalidItem('a line item needs a sku');
  const total = Number(item.line_total ?? 0).toFixed(2);
  console.log(`label for ${item.sku} (request ${context.awsRequestId})`);
  return { ...item, label: `${item.qty ?? 1} x ${item.sku} (${total})` };
};
