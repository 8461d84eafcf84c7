"""`jobline status` and `jobline top`: the pipeline's state, read from Kafka and the jobs DB."""
