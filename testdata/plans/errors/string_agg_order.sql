CREATE TABLE orders (id integer PRIMARY KEY, cust integer, note text);

CREATE VIEW v AS SELECT cust, string_agg(note, ',') AS notes FROM orders GROUP BY cust;
