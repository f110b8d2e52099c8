"""Locust's own closed-loop pacing, for contrast with the open-loop generator.

Each user waits for its response before its next request (``constant_throughput``), so a server
stall also stalls the arrivals: the coordinated-omission trap the scheduler user avoids.
"""

from locust import FastHttpUser, constant_throughput, task


class ClosedLoopUser(FastHttpUser):
    wait_time = constant_throughput(10)

    @task
    def predict(self) -> None:
        self.client.post(
            "/predict",
            data=b'{"text": "a fine film"}',
            headers={"Content-Type": "application/json"},
        )
