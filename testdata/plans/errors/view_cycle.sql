CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer);

CREATE VIEW a AS SELECT id FROM b;
CREATE VIEW b AS SELECT id FROM a;
