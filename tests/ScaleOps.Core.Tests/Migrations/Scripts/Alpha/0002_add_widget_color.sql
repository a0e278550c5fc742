ALTER TABLE {{schema}}.widgets ADD COLUMN color text NOT NULL DEFAULT 'blue';
CREATE INDEX widgets_color ON {{schema}}.widgets (color);
