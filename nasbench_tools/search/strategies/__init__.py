"""The registered search strategies, one module each (discovered by :data:`..strategy.STRATEGIES`).

========================  =================================================================
``random``                random search: uniform over the pool or over isomorphism classes
``rea``                   regularized (aging) evolution (AutoDL defaults; NASLib preset)
``reinforce``             REINFORCE with one categorical distribution per choice (NAS-RL)
``local-search``          best-improvement local search with random restarts (NASLib)
``weaknas``               iterative weak predictors (uniform-in-top-K and EI variants)
========================  =================================================================

MnasNet's reward is an objective, not a strategy: any strategy can search it
(:class:`nasbench_tools.search.oracle.MnasNetReward`).
"""
