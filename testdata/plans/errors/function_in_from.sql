CREATE TABLE events (id bigint PRIMARY KEY, payload jsonb);

-- Only generate_series and unnest are supported in FROM.
CREATE VIEW v AS
SELECT e.id, k FROM events e, jsonb_object_keys(e.payload) k;
