"""The bodies of the ``ffdetect`` verbs: one module per verb, each with one ``run`` function.

:mod:`ffdetect.cli` only declares the verbs and their options; verb ``NAME`` calls
``ffdetect.commands.NAME.run`` with its options as keyword arguments. A ``run`` raises a
:class:`~ffdetect.errors.UserError` for anything the user can fix (the command line prints it as
one line, exit status 2) and returns ``None``, or an exit status when only some inputs failed.
"""
