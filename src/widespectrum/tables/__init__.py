"""The paper's tables: ``catalog`` lists them, ``build`` computes one from a run folder's files.

Table functions are pure functions of data frames (``widespectrum.analysis``);
each table's ``compute`` adapter turns the files it reads into their arguments.
"""
