-- Secure queue: per-user hold time override.
ALTER TABLE users ADD COLUMN hold_hours INTEGER;
-- The colour the owner asked for: auto, color or monochrome.
ALTER TABLE jobs ADD COLUMN color_mode TEXT NOT NULL DEFAULT 'auto';
