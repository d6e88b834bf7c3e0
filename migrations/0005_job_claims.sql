-- Generation jobs count their claims, so that a job that keeps taking its worker down (a
-- clip that crashes a decoder, say) ends as `failed` instead of being claimed for ever.
-- A graceful release (a worker shutting down) gives its claim back.
ALTER TABLE generations ADD COLUMN IF NOT EXISTS claims int NOT NULL DEFAULT 0;
