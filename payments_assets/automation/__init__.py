"""Jobs, schedules and sensors: what runs by itself, and what raises its hand."""
