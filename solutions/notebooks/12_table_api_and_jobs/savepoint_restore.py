# stop the processor's job with a savepoint: the path of the savepoint (in .state/savepoints)
savepoint_restore = savepoints.stop_processor(config, JOBMANAGER)
# the same statements again, from that savepoint, each operator as two parallel tasks
restarted = savepoints.restart_processor(
    savepoint_restore, parallelism=2, config=config, jobmanager=JOBMANAGER, solutions=solutions_enabled()
)
