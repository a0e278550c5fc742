CREATE TABLE {{schema}}.gadgets (
    id        bigint PRIMARY KEY,
    widget_id bigint NOT NULL REFERENCES {{schema}}.widgets (id)
);
