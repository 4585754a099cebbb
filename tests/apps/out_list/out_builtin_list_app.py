"""An app the Python worker refuses to load: a queue output annotated ``func.Out[list[str]]``.

The worker's Registry accepts only real types or ``typing`` generics inside ``func.Out``
(out_typing_list_app.py is the same app with ``typing.List[str]``, which loads).
"""
import azure.functions as func

app = func.FunctionApp()


@app.timer_trigger(arg_name="timer", schedule="0 0 * * * *")
@app.queue_output(arg_name="items", queue_name="items", connection="AzureWebJobsStorage")
def fan_out(timer: func.TimerRequest, items: func.Out[list[str]]) -> None:
    """Puts two messages."""
    items.set(["a", "b"])
