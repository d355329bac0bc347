CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), note text, tags text[], f float8);

-- array_agg, json_agg and jsonb_agg in ORDER BY order; the order includes the value.
CREATE VIEW collected AS
SELECT customer_id, array_agg(id ORDER BY id) AS ids, array_agg(note ORDER BY note NULLS FIRST) AS notes,
       json_agg(amount ORDER BY amount DESC, id) FILTER (WHERE amount > 0) AS amounts,
       jsonb_agg(note ORDER BY id, note) AS jnotes, json_agg(f ORDER BY f) AS fs
FROM orders GROUP BY customer_id;

-- An array column of the source is carried as it is; DISTINCT over it.
CREATE VIEW tagged AS SELECT DISTINCT tags FROM orders;

-- Without GROUP BY: NULL over no rows.
CREATE VIEW all_ids AS SELECT array_agg(DISTINCT customer_id ORDER BY customer_id) AS custs FROM orders;
