"""What the probe context's handler leaves behind, so tests can count and order effects."""

from django.db import models


class ProbeEffect(models.Model):
    """One application of one event; the auto id records the order effects were applied in."""

    event_id = models.UUIDField()
    run = models.CharField(max_length=64)
    aggregate_id = models.CharField(max_length=64)
    seq = models.IntegerField()
    applied_with = models.IntegerField(
        default=1, help_text="How many events the handler call that applied this one took (bulk: >1)."
    )

    class Meta:
        indexes = (models.Index(fields=("run", "aggregate_id")),)

    def __str__(self) -> str:
        return f"{self.aggregate_id}#{self.seq}"


class ProbeSwitch(models.Model):
    """A flag a test flips to "fix" the handler (poison messages succeed once it is on)."""

    name = models.CharField(max_length=32, unique=True)
    on = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.name}={'on' if self.on else 'off'}"
