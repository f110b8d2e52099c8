"""Build steps: describe the model artifact, digest and build the service image. No Dagster."""
