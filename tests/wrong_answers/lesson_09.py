"""Plausible wrong answers to lesson 09's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "09.fastapi": [
        # The FastAPI app is made and the route declared, but @serve.ingress is missing: Serve
        # never hands HTTP requests to FastAPI, so /api/predict has no route.
        "from fastapi import Body, FastAPI\n\n"
        "digit_api = FastAPI()\n\n\n"
        '@serve.deployment(ray_actor_options={"num_cpus": 0.2})\n'
        "class DigitAPI:\n"
        "    def __init__(self, model_dir: str):\n"
        "        self.model = load_digit_model(model_dir)\n\n"
        '    @digit_api.post("/predict")\n'
        "    def predict(self, pixels: list[int] = Body(embed=True)) -> dict:\n"
        "        with torch.no_grad():\n"
        "            image = torch.tensor(pixels, dtype=torch.float32)[None] / 16\n"
        '            return {"digit": int(self.model(image).argmax())}\n\n\n'
        'api_handle = serve.run(DigitAPI.bind(str(MODEL_DIR)), name="api", route_prefix="/api")\n',
    ],
    "09.compose": [
        # The ingress does every step itself (its own copy of the model): one deployment, no
        # handles, so nothing is composed.
        'WORDS = "zero one two three four five six seven eight nine".split()\n\n\n'
        '@serve.deployment(ray_actor_options={"num_cpus": 0.1})\n'
        "class ToWord:\n"
        "    def __call__(self, digit: int) -> dict:\n"
        '        return {"digit": digit, "word": WORDS[digit]}\n\n\n'
        '@serve.deployment(ray_actor_options={"num_cpus": 0.2})\n'
        "class WordPipeline:\n"
        "    def __init__(self, model_dir):\n"
        "        self.model = load_digit_model(model_dir)\n\n"
        "    async def __call__(self, request: Request) -> dict:\n"
        '        flat = np.asarray((await request.json())["pixels"]).reshape(1, 64) / 16\n'
        "        with torch.no_grad():\n"
        "            digit = int(self.model(torch.tensor(flat, dtype=torch.float32)).argmax())\n"
        '        return {"digit": digit, "word": WORDS[digit]}\n\n\n'
        "words_handle = serve.run(\n"
        '    WordPipeline.bind(str(MODEL_DIR)), name="words", route_prefix="/words"\n'
        ")\n",
    ],
    "09.three-replicas": [
        # Redeployed without .options(num_replicas=3): one replica.
        "digits_handle = serve.run(\n"
        '    DigitModel.bind(str(MODEL_DIR)), name="digits", route_prefix="/digits"\n'
        ")\n",
        # The number typed instead of the handle serve.run returns.
        "digits_handle = 3\n",
    ],
    "09.config": [
        # The config is written but never sent to Serve (no `serve deploy`).
        'config_path = APP_DIR / "serve_config.yaml"\n'
        'config_path.write_text(f"""\n'
        "applications:\n"
        "  - name: digits-config\n"
        "    route_prefix: /config\n"
        "    import_path: digits_app:build\n"
        '    args: {{model_dir: "{MODEL_DIR}"}}\n'
        '    runtime_env: {{working_dir: "local://{APP_DIR}"}}\n'
        "    deployments:\n"
        "      - name: DigitModel\n"
        "        num_replicas: 2\n"
        '""")\n',
    ],
}
