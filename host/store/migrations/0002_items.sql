-- stepbox schema 2: items of the built-in DynamoDB integrations' tables
-- (`--dynamodb-table`), keyed by `table NUL key` (see host/store/src/items.rs).

CREATE TABLE stepbox_items (key bytea PRIMARY KEY, value bytea NOT NULL);
