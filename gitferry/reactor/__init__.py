"""The reactor: schedules reconciles by interval, by request and by cause (new artifact, dependency ready)."""
