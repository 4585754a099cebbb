"""Sample Functions app for the local host's tests: only registers blueprints."""
import azure.functions as func
from sample_http import bp as http_bp
from sample_queues import bp as queues_bp
from sample_timers import bp as timers_bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(http_bp)
app.register_functions(timers_bp)
app.register_functions(queues_bp)
