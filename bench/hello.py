"""Flask hello-world: the baseline the benchmark compares the app with."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, World!"
