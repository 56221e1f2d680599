"""Stage 2: the group-metric engine, the metric definitions and the statistics behind them.

The engine reduces predictions to a count table (sufficient statistics per group) and computes
metrics, disparities, intervals and tests from it. It knows nothing of models or sections.
"""
