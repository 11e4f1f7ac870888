"""The workflow runtime on SpiffWorkflow.

Its database-free core: `scripting` (the restricted script engine), `definitions` (BPMN checks
and loading), `expressions` (what a task spec hands to the engine), `forms` (task forms),
`serialization` (save and restore with the engine re-attached) and `tasks` (start, human tasks,
messages). The modules that use the database build on these.
"""
