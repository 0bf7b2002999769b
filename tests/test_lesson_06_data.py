"""Lesson 06 (Ray Data) prints the figures its text relies on; raykit.read_dataset on a worker."""

from __future__ import annotations

import re

import pytest


def test_data_lesson_prints_rows_per_second_of_both_sides_and_a_verdict(executed):
    text = executed.text("06_data.ipynb")
    rates = {
        label: int(rate.replace(",", ""))
        for label, rate in re.findall(
            r"^(pandas, 1 core|Ray Data, \d+ CPUs): ([\d,]+) rows/s$", text, re.M
        )
    }
    assert len(rates) == 2, f"both sides of the race print their rows per second: {rates}"
    assert all(rate > 0 for rate in rates.values())
    verdict = re.search(r"verdict on this machine: (Ray Data won|plain pandas won)", text)
    assert verdict, "the race prints the verdict computed from its own timings"
    pandas_rate = rates.pop("pandas, 1 core")
    (ray_rate,) = rates.values()
    winner = "Ray Data won" if ray_rate > pandas_rate else "plain pandas won"
    assert verdict.group(1) == winner, "the verdict agrees with the printed rates"


def test_data_lesson_loads_the_model_once_per_actor_and_streams_past_the_store(executed):
    text = executed.text("06_data.ipynb")
    loaded = re.search(
        r"processes that loaded the model: (\d+) \(pool size (\d+), (\d+) batches\)", text
    )
    assert loaded, "the actor-pool demo prints how many processes ran __init__"
    loaders, pool, batches = (int(g) for g in loaded.groups())
    assert 1 <= loaders <= pool < batches, "at most one load per actor, never one per batch"
    accuracy = float(re.search(r"nearest-centroid accuracy: ([\d.]+)", text).group(1))
    assert accuracy > 0.5, "the labels written by the actor pool, read back, beat chance (0.10)"
    assert "\u2713 `mean_alcohol` is right." in text


def test_data_lesson_passes_its_exercises_and_observes_its_predictions(executed):
    text = executed.text("06_data.ipynb")
    for exercise in (
        "06.ink-batches",
        "06.mean-alcohol",
        "06.join",
        "06.actor-pool",
        "06.write-parquet",
    ):
        assert f"\u2713 {exercise}: " in text, f"{exercise} passed"
    assert re.search(r"the Parquet files in strong_wines, read back here, hold the expected", text)
    # Under the runner nobody predicts; each observe() still prints what was measured.
    assert len(re.findall(r"No prediction made\. Measured: ", text)) == 3


def test_data_lesson_joins_the_rows_that_pandas_merge_gives(executed):
    """The join section's figures, against the wine CSV files read here with pandas."""
    import pandas as pd

    from raykit import dataset_path

    text = executed.text("06_data.ipynb")
    wine = pd.concat(map(pd.read_csv, sorted(dataset_path("wine").glob("*.csv"))))
    rows = re.search(r"rows: Ray Data join (\d+), pandas merge (\d+), matched (\d+)", text)
    assert rows, "the enrichment join prints its rows beside pandas.merge's"
    assert [int(n) for n in rows.groups()] == [len(wine)] * 3, "every wine has its cultivar's mean"
    gap = re.search(r"largest difference in proline_vs_mean, .*: (\S+)$", text, re.M)
    assert gap and float(gap.group(1)) < 1e-9, "the ratios computed by with_column match pandas"
    means = wine.groupby("cultivar")["alcohol"].mean()
    premium = set(means[means > 13].index)
    kept = int(wine["cultivar"].isin(premium).sum())
    assert 0 < kept < len(wine), "the premium lookup lacks some cultivars, not all"
    counts = {
        join_type: (int(ray_rows), int(pandas_rows))
        for join_type, ray_rows, pandas_rows in re.findall(
            r"^(inner|left_outer) *: Ray Data (\d+) rows, pandas merge\(how='\w+'\) (\d+)$",
            text,
            re.M,
        )
    }
    assert counts == {"inner": (kept, kept), "left_outer": (len(wine), len(wine))}, counts
    unmatched = re.search(r"wines the left outer join kept without a match: (\d+)", text)
    assert unmatched and int(unmatched.group(1)) == len(wine) - kept
    others = sorted(set(wine["cultivar"]) - premium)
    assert f"their cultivars: {others}" in text


def test_data_lesson_reads_parquet_without_a_listing_task(executed):
    """The lesson turns Ray 2.60's Parquet reader V2 off: no ListFiles task (and its footer
    actors) runs, so none can log an InterruptedError while it shuts down."""
    text = executed.text("06_data.ipynb")
    assert "ReadParquet" in text, "the execution plans Ray Data logs show the classic reader"
    assert "ListFiles" not in text and "InterruptedError" not in text


def _megabytes(pattern: str, text: str) -> list[float]:
    return [float(found.replace(",", "")) for found in re.findall(pattern, text)]


def test_data_lesson_streams_more_than_the_store_holds_and_materializing_spills(executed):
    text = executed.text("06_data.ipynb")
    ratio = re.search(r"float64 data produced: +[\d,]+ MB \(([\d.]+)x the store\)", text)
    assert ratio, "the memory demo prints how much data went through a store of what size"
    assert float(ratio.group(1)) > 1.0, "more data streamed through than the store can hold"
    streamed_peak, materialized_peak = _megabytes(r"peak object store usage: +([\d,]+) MB", text)
    assert streamed_peak > 0, "the sampler saw the streamed blocks in the store"
    streamed_spill, materialized_spill = _megabytes(r"spilled to disk: +([\d,]+) MB", text)
    assert materialized_spill > 0, "keeping every block of more data than the store holds spills"
    assert streamed_spill < materialized_spill, "streaming spills less than materializing"


@pytest.mark.ray_cluster
def test_read_dataset_works_on_a_worker_node_that_lacks_the_files(tmp_path, monkeypatch):
    """A worker node whose working directory has no datasets/ folder: raykit.read_dataset (read
    on the driver) works there; a task that opens the driver's relative path does not."""
    import os

    import pyarrow.csv
    import ray
    from conftest import ROOT

    import raykit

    elsewhere = tmp_path / "worker_node_cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the nodes start here: `ray start` inherits this directory
    cluster = raykit.MiniCluster(num_cpus=0, workers=1)  # only the worker node runs tasks
    try:
        monkeypatch.chdir(ROOT)  # the driver runs where datasets/ is
        raykit.init(address=cluster.address)
        worker_id = cluster.workers[0].node_id
        relative = "datasets/wine/part-000.csv"
        assert os.path.exists(relative), "the driver sees the relative path"

        @ray.remote
        def where_am_i():
            return ray.get_runtime_context().get_node_id(), os.getcwd(), os.path.exists(relative)

        node_id, cwd, exists = ray.get(where_am_i.remote())
        assert node_id == worker_id and cwd == str(elsewhere) and not exists

        def rows_and_node(batch):
            node = ray.get_runtime_context().get_node_id()
            return {"node": [node], "rows": [len(batch["wine_id"])]}

        counted = raykit.read_dataset("wine").map_batches(rows_and_node, batch_size=None)
        counts = counted.take_all()
        assert sum(c["rows"] for c in counts) == 178
        assert {c["node"] for c in counts} == {worker_id}, "the rows were counted on the worker"

        @ray.remote
        def naive_read(path):
            return pyarrow.csv.read_csv(path).num_rows

        with pytest.raises(ray.exceptions.RayTaskError, match="No such file|FileNotFound"):
            ray.get(naive_read.remote(relative))
    finally:
        raykit.shutdown()
        cluster.close()
