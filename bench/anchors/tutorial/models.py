"""The tutorial's Question/Choice, shaped like a ballot: a case carries its vote counter
(the tutorial's `Choice.votes`), a ballot is one row and each case on it one more."""

from django.db import models


class Case(models.Model):
    number = models.PositiveSmallIntegerField(unique=True)
    title = models.CharField(max_length=200)
    province = models.CharField(max_length=50, blank=True)
    summary = models.TextField(blank=True)
    votes = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.number:03d} {self.title}"


class Ballot(models.Model):
    cast_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"ballot {self.pk}"


class Choice(models.Model):
    ballot = models.ForeignKey(Ballot, on_delete=models.CASCADE, related_name="choices")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="choices")

    def __str__(self) -> str:
        return f"{self.ballot_id} → {self.case_id}"
