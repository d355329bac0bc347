CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), qty integer, note text);
CREATE TABLE events (kind text, n int);

CREATE VIEW v AS
SELECT kind, row_number() OVER (ORDER BY kind, n) FROM events;
