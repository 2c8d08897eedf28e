"""Differential fuzzing of chainrule's engines (see docs/testing.md).

* :mod:`tests.fuzz.program`: hypothesis strategies that write random programs (and their
  traced twins) as Python source;
* :mod:`tests.fuzz.check`: one program through every engine and finite differences;
* :mod:`tests.fuzz.runner`: many programs, counted, shrunk on failure, in parallel;
* ``python -m tests.fuzz --programs N``: the command line.
"""
