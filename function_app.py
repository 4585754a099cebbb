"""Function app entry point: registers the blueprints and nothing else."""
import azure.functions as func

from actions.health import bp as health

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(health)
