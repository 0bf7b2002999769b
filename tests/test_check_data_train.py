"""The self-checks of lessons 06 and 07: a right, a wrong and a blank answer for each."""

from __future__ import annotations

import pytest
from _tiers import starts_ray

from raykit import check
from raykit.check import CheckFailed

# Module-level answers: the checks look names up in the caller's globals, like a notebook's.
mean_alcohol_right = {"class_0": 13.744745762711865, "class_1": 12.278732394366198}
mean_alcohol_rounded = {"class_0": 13.7, "class_1": 12.3}
mean_alcohol_missing_key = {"class_0": 13.744745762711865}
EXPECTED_MEANS = {"class_0": 13.744745762711865, "class_1": 12.278732394366198 * (1 + 1e-9)}


def test_close_passes_a_right_answer_within_tolerance(capsys):
    check.close("mean_alcohol_right", EXPECTED_MEANS)
    assert "\u2713 `mean_alcohol_right` is right." in capsys.readouterr().out


def test_close_accepts_numbers_and_sequences_given_as_values():
    check.close(0.1 + 0.2, 0.3)
    check.close([1.0, 2.0], (1.0, 2.0 + 1e-12))


@pytest.mark.parametrize("name", ["mean_alcohol_rounded", "mean_alcohol_missing_key"])
def test_close_fails_a_wrong_answer(name):
    with pytest.raises(CheckFailed, match="does not match the expected values"):
        check.close(name, EXPECTED_MEANS)


def test_close_fails_a_non_number():
    with pytest.raises(CheckFailed):
        check.close("not a number", 1.0)
    with pytest.raises(CheckFailed):
        check.close(True, 1.0)


def test_close_names_the_type_of_an_answer_that_prints_as_a_table():
    import pandas as pd

    with pytest.raises(CheckFailed, match="is a DataFrame, which does not match") as info:
        check.close(pd.DataFrame({"mean": [1.0, 2.0]}), EXPECTED_MEANS)
    assert "\n" not in info.value.problem


def test_close_fails_a_blank_answer_with_a_hint():
    with pytest.raises(CheckFailed) as info:
        check.close("mean_alcohol_never_defined", EXPECTED_MEANS)
    assert "is not defined yet" in info.value.problem
    assert info.value.hint


def _gpu_scaling(**kwargs):
    from ray.train import ScalingConfig

    return ScalingConfig(**kwargs)


def test_scaling_config_passes_a_right_answer(capsys):
    answer = _gpu_scaling(num_workers=4, use_gpu=True, resources_per_worker={"CPU": 2})
    check.scaling_config(answer, num_workers=4, use_gpu=True, cpus_per_worker=2)
    out = capsys.readouterr().out
    assert "runs 4 workers" in out and "'GPU': 1" in out


@pytest.mark.parametrize(
    "kwargs, problem",
    [
        ({"num_workers": 2, "use_gpu": True, "resources_per_worker": {"CPU": 2}}, "2 workers"),
        ({"num_workers": 4, "use_gpu": False, "resources_per_worker": {"CPU": 2}}, "use_gpu"),
        ({"num_workers": 4, "use_gpu": True}, "reserves 0 CPUs"),
    ],
)
def test_scaling_config_fails_a_wrong_answer(kwargs, problem):
    with pytest.raises(CheckFailed, match=problem):
        check.scaling_config(_gpu_scaling(**kwargs), num_workers=4, use_gpu=True, cpus_per_worker=2)


def test_scaling_config_fails_something_else_and_a_blank_answer():
    with pytest.raises(CheckFailed, match="not a ScalingConfig"):
        check.scaling_config({"num_workers": 4}, num_workers=4, use_gpu=True)
    with pytest.raises(CheckFailed, match="is not defined yet"):
        check.scaling_config("gpu_scaling_never_defined", num_workers=4, use_gpu=True)


# --- lesson 06: checks that judge a Ray Data Dataset (its plan, its rows, the files it wrote) ---


@pytest.fixture(scope="module")
@starts_ray
def data_cluster():
    """A small local cluster for Ray Data (no dashboard: these checks use no State API)."""
    import raykit

    raykit.init(num_cpus=2, include_dashboard=False)
    yield
    raykit.shutdown()


def _wine_csv():
    import raykit

    return str(raykit.dataset_path("wine"))


def _wine_frame():
    from pathlib import Path

    import pandas as pd

    return pd.concat(map(pd.read_csv, sorted(Path(_wine_csv()).glob("*.csv"))), ignore_index=True)


def _batch_functions():
    """Batch functions for map_batches, defined in a function so that Ray ships them by value
    (the workers cannot import this test module)."""

    def add_ratio(batch):
        batch["ratio"] = batch["flavanoids"] / batch["total_phenols"]
        return batch

    def add_wrong_ratio(batch):
        batch["ratio"] = batch["total_phenols"] / batch["flavanoids"]
        return batch

    def fails(batch):
        raise ValueError("a bug in my batch function")

    return add_ratio, add_wrong_ratio, fails


_add_ratio, _add_wrong_ratio, _fails = _batch_functions()


def _expected_ratio():
    import pandas as pd

    frame = _wine_frame()
    return pd.DataFrame(
        {"wine_id": frame["wine_id"], "ratio": frame["flavanoids"] / frame["total_phenols"]}
    )


@pytest.mark.ray_cluster
def test_dataset_plan_passes_a_batch_map_over_the_files_read(data_cluster, capsys):
    import ray

    ds = ray.data.read_csv(_wine_csv()).map_batches(_add_ratio)
    check.dataset_plan(ds, ["ReadCSV", "MapBatches"], reads=_wine_csv())
    assert "MapBatches(add_ratio)" in capsys.readouterr().out, "the plan is printed"


@pytest.mark.ray_cluster
def test_dataset_plan_fails_a_missing_step_with_its_own_hint(data_cluster):
    import ray

    per_row = ray.data.read_csv(_wine_csv()).map(lambda row: row)
    with pytest.raises(CheckFailed, match="no MapBatches step") as info:
        check.dataset_plan(per_row, {"MapBatches": "use map_batches"}, hint="other")
    assert info.value.hint == "use map_batches"
    assert "Map(<lambda>)" in info.value.problem, "the message shows the plan it found"


@pytest.mark.ray_cluster
def test_dataset_plan_fails_data_not_read_from_the_files(data_cluster):
    import ray

    handed_over = ray.data.from_pandas(_wine_frame()).map_batches(_add_ratio)
    with pytest.raises(CheckFailed, match="reads no files, not the 4 files"):
        check.dataset_plan(handed_over, ["MapBatches"], reads=_wine_csv())
    one_file = ray.data.read_csv(sorted(__import__("glob").glob(f"{_wine_csv()}/*.csv"))[0])
    with pytest.raises(CheckFailed, match="reads part-000.csv, not"):
        check.dataset_plan(one_file, ["ReadCSV"], reads=_wine_csv())


@pytest.mark.ray_cluster
def test_dataset_plan_fails_a_materialized_dataset_rows_and_a_blank(data_cluster):
    import ray

    ds = ray.data.read_csv(_wine_csv()).map_batches(_add_ratio)
    with pytest.raises(CheckFailed, match="is a materialized dataset"):
        check.dataset_plan(ds.materialize(), ["MapBatches"])
    with pytest.raises(CheckFailed, match="is a materialized dataset .*from_pandas"):
        check.dataset_plan(ray.data.from_pandas(_wine_frame()), ["ReadCSV"])
    with pytest.raises(CheckFailed, match="not a Ray Data Dataset") as info:
        check.dataset_plan(ds.take(2), ["MapBatches"])
    assert ".take_all()" in info.value.hint
    with pytest.raises(CheckFailed, match="is not defined yet"):
        check.dataset_plan("dataset_never_defined", ["MapBatches"])


def test_dataset_plan_rejects_bad_arguments():
    from raykit import ConfigError

    with pytest.raises(ConfigError, match="steps"):
        check.dataset_plan("anything", "MapBatches")
    with pytest.raises(ConfigError, match="reads"):
        check.dataset_plan("anything", ["MapBatches"], reads="/no/such/folder")


@pytest.mark.ray_cluster
def test_dataset_rows_runs_the_dataset_and_compares_with_pandas(data_cluster, capsys):
    import ray

    right = ray.data.read_csv(_wine_csv()).map_batches(_add_ratio)
    check.dataset_rows(right, _expected_ratio(), key="wine_id")
    assert "gives the expected 178 rows" in capsys.readouterr().out


@pytest.mark.ray_cluster
def test_dataset_rows_fails_wrong_values_missing_columns_rows_and_errors(data_cluster):
    import ray

    wine = ray.data.read_csv(_wine_csv())
    expected = _expected_ratio()
    with pytest.raises(CheckFailed, match=r"column 'ratio' .* differs .* \d+ of 178 rows") as info:
        check.dataset_rows(wine.map_batches(_add_wrong_ratio), expected, key="wine_id")
    assert "(at wine_id=0: " in info.value.problem, "plain numbers, not np.int64(...)"
    with pytest.raises(CheckFailed, match="has no column 'ratio'"):
        check.dataset_rows(wine, expected, key="wine_id")
    with pytest.raises(CheckFailed, match="10 rows, not the expected 178"):
        check.dataset_rows(wine.map_batches(_add_ratio).limit(10), expected, key="wine_id")
    with pytest.raises(CheckFailed, match="running .* failed with .*a bug in my batch function"):
        check.dataset_rows(wine.map_batches(_fails), expected, key="wine_id")


@pytest.mark.ray_cluster
def test_wrote_parquet_reads_the_files_back_and_compares(data_cluster, tmp_path, capsys):
    import ray
    from ray.data.expressions import col

    strong = ray.data.read_csv(_wine_csv()).filter(expr=col("alcohol") > 13)
    strong.write_parquet(str(tmp_path / "out"))
    frame = _wine_frame()
    check.wrote_parquet(strong, tmp_path / "out", frame[frame["alcohol"] > 13], key="wine_id")
    assert "was written by Ray Data" in capsys.readouterr().out


@pytest.mark.ray_cluster
def test_wrote_parquet_fails_rows_saved_by_pandas_wrong_rows_and_a_second_append(
    data_cluster, tmp_path
):
    import ray

    frame = _wine_frame()
    strong = frame[frame["alcohol"] > 13]
    by_pandas = ray.data.from_pandas(strong)
    (tmp_path / "pandas").mkdir()
    by_pandas.to_pandas().to_parquet(tmp_path / "pandas" / "strong.parquet")
    with pytest.raises(CheckFailed, match="has not been written by Ray Data"):
        check.wrote_parquet(by_pandas, tmp_path / "pandas", strong, key="wine_id")
    everything = ray.data.read_csv(_wine_csv())
    everything.write_parquet(str(tmp_path / "all"))
    with pytest.raises(CheckFailed, match=r"178 rows, not the expected \d+"):
        check.wrote_parquet(everything, tmp_path / "all", strong, key="wine_id")
    everything.write_parquet(str(tmp_path / "all"))  # appended: every row twice now
    with pytest.raises(CheckFailed, match="repeat some rows") as info:
        check.wrote_parquet(everything, tmp_path / "all", frame, key="wine_id")
    assert "mode='overwrite'" in info.value.hint


# --- lesson 06's joins: a Join step in the plan, and the joined rows against pandas.merge -------


def _expected_above_mean():
    """Per cultivar, the wines above their cultivar's mean alcohol: computed with pandas.merge."""
    frame = _wine_frame()
    means = frame.groupby("cultivar", as_index=False)["alcohol"].mean()
    both = frame.merge(means, on="cultivar", suffixes=("", "_mean"))
    above = both[both["alcohol"] > both["alcohol_mean"]]
    return above.groupby("cultivar").size().rename("count()").reset_index()


@pytest.fixture(scope="module")
def wine_means(data_cluster):
    """Each cultivar's mean alcohol, computed once by Ray Data (a shuffle) and kept."""
    import ray

    wines = ray.data.read_csv(_wine_csv())
    return wines.groupby("cultivar", num_partitions=3).mean("alcohol").materialize()


def _joined_wines(means):
    """The wines joined with their cultivar's mean alcohol, in Ray Data (not run yet)."""
    import ray

    wines = ray.data.read_csv(_wine_csv())
    return wines.join(means, join_type="inner", num_partitions=2, on=("cultivar",))


@pytest.mark.ray_cluster
def test_dataset_join_passes_a_join_then_a_count(wine_means, capsys):
    from ray.data.expressions import col

    joined = _joined_wines(wine_means)
    above = joined.filter(expr=col("alcohol") > col("mean(alcohol)"))
    right = above.groupby("cultivar", num_partitions=3).count()
    check.dataset_join(right, _expected_above_mean(), key="cultivar")
    out = capsys.readouterr().out
    assert "joins in Ray Data (its plan: " in out and "JoinShuffleReduce(num_partitions=2)" in out
    assert "gives the expected 3 rows" in out


@pytest.mark.ray_cluster
def test_dataset_join_fails_a_plan_without_a_join_and_rows_merged_by_pandas(data_cluster):
    import ray
    from ray.data.expressions import col

    wines = ray.data.read_csv(_wine_csv())
    overall = wines.mean("alcohol")
    no_join = wines.filter(expr=col("alcohol") > overall)
    no_join = no_join.groupby("cultivar", num_partitions=3).count()
    with pytest.raises(CheckFailed, match="the plan of your answer has no Join step") as info:
        check.dataset_join(no_join, _expected_above_mean(), key="cultivar")
    assert "Aggregate" in info.value.problem, "the message shows the plan it found"
    assert ".join(" in info.value.hint
    handed_over = ray.data.from_pandas(_expected_above_mean())
    with pytest.raises(CheckFailed, match="is a materialized dataset .*from_pandas"):
        check.dataset_join(handed_over, _expected_above_mean(), key="cultivar")


@pytest.mark.ray_cluster
def test_dataset_join_fails_wrong_counts_and_repeated_keys(wine_means):
    from ray.data.expressions import col

    expected = _expected_above_mean()
    joined = _joined_wines(wine_means)
    unfiltered = joined.groupby("cultivar", num_partitions=3).count()
    with pytest.raises(CheckFailed, match=r"column 'count\(\)' .* differs .* in 3 of 3 rows"):
        check.dataset_join(unfiltered, expected, key="cultivar")
    not_counted = joined.filter(expr=col("alcohol") > col("mean(alcohol)"))
    with pytest.raises(CheckFailed, match="in more than one of them") as info:
        check.dataset_join(not_counted, expected, key="cultivar")
    assert "cultivar='class_" in info.value.problem and "group the joined rows" in info.value.hint


@pytest.mark.ray_cluster
def test_dataset_join_fails_a_blank_rows_and_an_error_with_a_hint(wine_means):
    import ray

    with pytest.raises(CheckFailed, match="is not defined yet"):
        check.dataset_join("above_mean_never_defined", _expected_above_mean(), key="cultivar")
    rows = _expected_above_mean().to_dict("records")
    with pytest.raises(CheckFailed, match="not a Ray Data Dataset") as info:
        check.dataset_join(rows, _expected_above_mean(), key="cultivar")
    assert ".take_all()" in info.value.hint
    wines = ray.data.read_csv(_wine_csv()).map_batches(_fails)
    broken = wines.join(wine_means, join_type="inner", num_partitions=2, on=("cultivar",))
    with pytest.raises(CheckFailed, match="running .* failed with .*a bug in my batch function"):
        check.dataset_join(broken, _expected_above_mean(), key="cultivar")


def test_dataset_join_rejects_bad_arguments():
    import pandas as pd

    from raykit import ConfigError

    with pytest.raises(ConfigError, match="key column 'cultivar'"):
        check.dataset_join("anything", pd.DataFrame({"x": [1]}), key="cultivar")
    with pytest.raises(ConfigError, match="pandas DataFrame"):
        check.dataset_join("anything", [{"cultivar": "a"}], key="cultivar")
