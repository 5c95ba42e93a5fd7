"""Runs, params, metrics, artifacts and models; capture of code, environment and git.

:mod:`.api` holds the functions the package exposes, :mod:`.session` the
process's open runs and metric buffer, :mod:`.run` the :class:`Run` handle,
:mod:`.capture` what a run records about where it ran, :mod:`.cells` the
notebook cell capture and :mod:`.autolog` scikit-learn autologging.
"""
