"""``ffdetect metrics`` on a self-made result file that ships with the tests (runs everywhere).

The authors' released predictions live in ``../shared/fixtures`` and their tests skip in a fresh
clone; ``tests/fixtures/selfmade_results.csv`` is a 14-video file written for this test (6 real,
8 fake, one score of exactly 0.5 in each class, one real/fake tie at 0.20). The expected numbers
are computed here independently of ffdetect: scikit-learn for AUC, AP and log loss, plain
counting for the confusion matrix, and a hand count of the AUC's pairs.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

FIXTURE = Path(__file__).parent / "fixtures" / "selfmade_results.csv"

#: Pairs (fake, real) ordered correctly, ties counted half, over 8 x 6 pairs, counted by hand:
#: fakes 0.95, 0.80, 0.99, 0.70 beat all 6 reals; 0.50 beats 4 and ties 1; 0.45 beats 4;
#: 0.30 beats 3; 0.20 beats 2 and ties 1: 38 / 48.
HAND_AUC = 38 / 48

#: (tn, fp, fn, tp) at 0.5 with ``predict >= 0.5`` fake, counted by hand from the file.
HAND_CONFUSION = [4, 2, 3, 5]


def read_fixture() -> tuple[list[int], list[float]]:
    """Labels and scores of the fixture, read with the csv module."""
    with FIXTURE.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [int(r["label"]) for r in rows], [float(r["predict"]) for r in rows]


def counted_confusion(labels: list[int], scores: list[float], threshold: float) -> list[int]:
    """``[tn, fp, fn, tp]`` by counting, fake when ``score >= threshold``."""
    cells = {(0, False): 0, (0, True): 0, (1, False): 0, (1, True): 0}
    for label, score in zip(labels, scores, strict=True):
        cells[(label, score >= threshold)] += 1
    return [cells[(0, False)], cells[(0, True)], cells[(1, False)], cells[(1, True)]]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The fixture's row of ``metrics.json`` written by the real ``ffdetect metrics`` process."""
    out = tmp_path_factory.mktemp("report")
    command = [sys.executable, "-m", "ffdetect.cli", "metrics", str(FIXTURE), "--out", str(out)]
    run = subprocess.run(
        [*command, "--threshold", "0.7"], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "selfmade_results" in run.stdout
    doc = json.loads((out / "metrics.json").read_text())
    assert [row["name"] for row in doc["rows"]] == ["selfmade_results"]
    return {"row": doc["rows"][0], "md": (out / "metrics.md").read_text()}


def test_hand_counts_agree_with_sklearn() -> None:
    labels, scores = read_fixture()
    assert (labels.count(0), labels.count(1)) == (6, 8)
    assert roc_auc_score(labels, scores) == pytest.approx(HAND_AUC)
    assert counted_confusion(labels, scores, 0.5) == HAND_CONFUSION


def test_cli_ranking_metrics_match_sklearn(report: dict[str, object]) -> None:
    labels, scores = read_fixture()
    row = report["row"]
    assert (row["n"], row["n_real"], row["n_fake"]) == (14, 6, 8)
    assert row["auc"] == pytest.approx(roc_auc_score(labels, scores))
    assert row["auc"] == pytest.approx(HAND_AUC)
    assert row["ap"] == pytest.approx(average_precision_score(labels, scores))
    assert row["log_loss"] == pytest.approx(log_loss(labels, scores))


def test_cli_counts_at_half_and_at_the_threshold(report: dict[str, object]) -> None:
    labels, scores = read_fixture()
    row = report["row"]
    tn, fp, fn, tp = counted_confusion(labels, scores, 0.5)
    assert row["confusion"] == [tn, fp, fn, tp] == HAND_CONFUSION
    assert row["acc_05"] == pytest.approx((tn + tp) / 14)
    assert row["precision"] == pytest.approx(tp / (tp + fp))
    assert row["recall"] == pytest.approx(tp / (tp + fn))
    tn7, _, _, tp7 = counted_confusion(labels, scores, 0.7)
    assert row["threshold"] == 0.7
    assert row["acc_threshold"] == pytest.approx((tn7 + tp7) / 14)


def test_cli_markdown_shows_the_same_numbers(report: dict[str, object]) -> None:
    assert "| selfmade_results | 14 | 79.17 |" in report["md"]
    assert "| [4 2 3 5] |" in report["md"]
