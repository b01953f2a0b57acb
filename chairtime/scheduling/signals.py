"""Signals of the appointment book.

`appointment_released` tells other apps that an appointment gave its time back: it was
cancelled, marked a no-show, or moved (then the freed interval is the old one). It is sent
by `chairtime.scheduling.services` only once the change is committed
(`transaction.on_commit`), so a receiver never sees a release that was rolled back, and a
receiver's failure can never undo it. Keyword arguments:

- `appointment_id` (int), `reason` ("cancelled", "no_show" or "rescheduled");
- `branch_id`, `chair_id`, `doctor_id` (ints) and `starts_at`, `ends_at` (aware UTC): the
  freed interval, on that chair with that doctor.

The waitlist's refill listens to it (chairtime.waitlist.receivers, ADR 13).
"""

from __future__ import annotations

import django.dispatch

appointment_released = django.dispatch.Signal()
