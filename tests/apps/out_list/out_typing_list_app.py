"""out_builtin_list_app.py with the annotation the Python worker accepts: ``func.Out[typing.List[str]]``."""
import typing

import azure.functions as func

app = func.FunctionApp()


@app.timer_trigger(arg_name="timer", schedule="0 0 * * * *")
@app.queue_output(arg_name="items", queue_name="items", connection="AzureWebJobsStorage")
def fan_out(timer: func.TimerRequest, items: func.Out[typing.List[str]]) -> None:
    """Puts two messages."""
    items.set(["a", "b"])
