"""The data plane: fingerprints, profiles, inferred schemas, validation and drift.

Every public function takes a pandas DataFrame or a path to a CSV or Parquet
file. pandas, numpy, scipy and pyarrow are imported inside the modules of this
package, never by ``import mlops_lab``; the top-level names (``ml.fingerprint``,
``ml.validate``, ...) load them on first use.
"""
