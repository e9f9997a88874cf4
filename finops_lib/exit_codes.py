"""One exit-code convention for every ``finops`` subcommand (shown by ``finops --help``)."""

#: Everything asked for was done.
OK = 0
#: The work ran and something failed (a collection, a notebook); what failed is printed.
FAILED = 1
#: Bad input found before any work started: arguments, experiment files, world configuration,
#: an output folder that cannot be written or holds files finops did not write. Nothing was changed.
USAGE = 2
#: Another finops run holds the lock of the same results folder or snapshot target. Nothing was changed.
BUSY = 3

HELP = """\
exit codes:
  0    success
  1    the work ran and failed (a collection or a notebook; what failed is printed)
  2    bad input found before any work started (arguments, experiment file, world
       configuration, unwritable or foreign output folder); nothing was changed
  3    another finops run is using the same results folder or snapshot target;
       nothing was changed (wait, pass --wait, or use another folder)
  130  interrupted by Ctrl-C (128 + signal number for SIGTERM/SIGHUP)
"""
