"""Plausible wrong answers to lesson 06's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "06.ink-batches": [
        # Right values, but still one Python call per row.
        "with_ink = ray.data.read_parquet(DIGITS).map(\n"
        '    lambda row: {**row, "ink": int(row["pixels"].sum())}\n'
        ")\n",
        # A batch function, but the wrong reduction.
        "def ink_per_batch(batch):\n"
        '    batch["ink"] = np.stack(batch["pixels"]).mean(axis=1)\n'
        "    return batch\n\n\n"
        "with_ink = ray.data.read_parquet(DIGITS).map_batches(ink_per_batch)\n",
        # Read with pandas on the driver, then handed over: no read task opens the files.
        "def ink_per_batch(batch):\n"
        '    batch["ink"] = np.stack(batch["pixels"]).sum(axis=1)\n'
        "    return batch\n\n\n"
        "with_ink = ray.data.from_pandas(pd.read_parquet(DIGITS)).map_batches(ink_per_batch)\n",
    ],
    "06.mean-alcohol": [
        # The wrong aggregate.
        'per_cultivar = ray.data.read_csv(WINE).groupby("cultivar", num_partitions=3).max(\n'
        '    "alcohol"\n'
        ")\n"
        'mean_alcohol = {r["cultivar"]: r["max(alcohol)"] for r in per_cultivar.take_all()}\n',
        # Computed with pandas, and only the result handed to Ray Data.
        'wine_df = pd.concat(map(pd.read_csv, sorted(Path(WINE).glob("*.csv"))))\n'
        'means = wine_df.groupby("cultivar")["alcohol"].mean()\n'
        'per_cultivar = ray.data.from_pandas(means.rename("mean(alcohol)").reset_index())\n'
        "mean_alcohol = means.to_dict()\n",
        # The lazy dataset, never turned into values.
        'per_cultivar = ray.data.read_csv(WINE).groupby("cultivar", num_partitions=3).mean(\n'
        '    "alcohol"\n'
        ")\n"
        "mean_alcohol = per_cultivar\n",
    ],
    "06.actor-pool": [
        # A plain function: Ray tasks, and the model handed over again for every batch.
        "def label_batch(batch):\n"
        '    batch["predicted"] = nearest_centroid(np.stack(batch["pixels"]), centroids)\n'
        "    return batch\n\n\n"
        "labelled = test_digits.map_batches(label_batch, batch_size=32)\n",
        # The right pool, materialized: its plan is gone.
        "class CentroidLabeler:\n"
        "    def __init__(self, centroids):\n"
        "        self.centroids = centroids\n\n"
        "    def __call__(self, batch):\n"
        '        batch["predicted"] = nearest_centroid(np.stack(batch["pixels"]), '
        "self.centroids)\n"
        "        return batch\n\n\n"
        "labelled = test_digits.map_batches(\n"
        "    CentroidLabeler,\n"
        '    fn_constructor_kwargs={"centroids": centroids},\n'
        "    batch_size=32,\n"
        "    compute=ray.data.ActorPoolStrategy(size=POOL_SIZE),\n"
        ").materialize()\n",
    ],
    "06.write-parquet": [
        # The rows saved with pandas: Ray Data never wrote them.
        'strong_wines = ray.data.read_csv(WINE).filter(expr=col("alcohol") > 13)\n'
        "STRONG_DIR.mkdir(parents=True, exist_ok=True)\n"
        'strong_wines.to_pandas().to_parquet(STRONG_DIR / "strong.parquet")\n',
        # Every wine written, not only the strong ones (and added to what is there).
        "strong_wines = ray.data.read_csv(WINE)\nstrong_wines.write_parquet(str(STRONG_DIR))\n",
    ],
    "06.join": [
        # No join: every wine compared with the mean of all the wines, not its cultivar's.
        "wines = ray.data.read_csv(WINE)\n"
        'overall = wines.mean("alcohol")\n'
        'above_mean = wines.filter(expr=col("alcohol") > overall).groupby(\n'
        '    "cultivar", num_partitions=3\n'
        ").count()\n",
        # Joined, but the filter forgotten: every wine of each cultivar is counted.
        "above_mean = (\n"
        "    ray.data.read_csv(WINE)\n"
        '    .join(cultivar_means, join_type="inner", num_partitions=2, on=("cultivar",))\n'
        '    .groupby("cultivar", num_partitions=3)\n'
        "    .count()\n"
        ")\n",
        # The merge done in pandas, and only its result handed to Ray Data.
        'wine_df = pd.concat(map(pd.read_csv, sorted(Path(WINE).glob("*.csv"))))\n'
        'wine_df["mean(alcohol)"] = wine_df.groupby("cultivar")["alcohol"].transform("mean")\n'
        'above = wine_df[wine_df["alcohol"] > wine_df["mean(alcohol)"]]\n'
        'counts = above.groupby("cultivar").size().rename("count()").reset_index()\n'
        "above_mean = ray.data.from_pandas(counts)\n",
    ],
}
