# What the side experiments ask of the DAG, from their declarations (widespectrum.experiments):
# the wildcard sets and input functions of rules/experiments.smk and experiment_targets().
# Every answer is computed once here; the input functions only look it up.
ACTIVE = {name: e for name, e in EXPERIMENTS.items() if e.spec(config) is not None}
EXPERIMENT_ITEM_SETS = [name for name, e in ACTIVE.items() if e.has_items]
EXPERIMENT_RENDERS = {name: e.render_generators(config) for name, e in ACTIVE.items() if e.render_generators(config)}
EXPERIMENT_SCORED = {name: e.scored_rewards(config) for name, e in ACTIVE.items() if e.scored_rewards(config)}
# Renders made here (prompts + generate jobs), apart from a released set's pictures filed as renders.
EXPERIMENT_GENERATED = [name for name in EXPERIMENT_RENDERS if not ACTIVE[name].renders_released(config)]
EXPERIMENT_RELEASED_RENDERS = [name for name in EXPERIMENT_RENDERS if ACTIVE[name].renders_released(config)]
EXPERIMENT_GENERATORS = list(dict.fromkeys(g for e in EXPERIMENT_GENERATED for g in EXPERIMENT_RENDERS[e]))
EXPERIMENT_REWARDS = list(dict.fromkeys(r for names in EXPERIMENT_SCORED.values() for r in names))
EXPERIMENT_RELEASED_SCORES = [name for name, e in ACTIVE.items() if e.released_score_rewards(config)]
EXPERIMENT_EXTERNAL = {name: e.external_files(config) for name, e in ACTIVE.items() if e.external_files(config)}
EXPERIMENT_EXTERNAL_NAMES = list(dict.fromkeys(f for files in EXPERIMENT_EXTERNAL.values() for f in files))


EXPERIMENT_PROMPT_INPUTS = {
    name: ACTIVE[name].prompt_inputs(config) + [run(p) for p in ACTIVE[name].prompt_run_inputs(config)]
    for name in EXPERIMENT_GENERATED
}
EXPERIMENT_ITEM_SPECS = {
    name: {key: ACTIVE[name].spec(config).get(key) for key in ACTIVE[name].item_keys} | {"seed": config["seed"]}
    for name in EXPERIMENT_ITEM_SETS
}
EXPERIMENT_PROMPT_SPECS = {
    name: {key: ACTIVE[name].spec(config).get(key) for key in ACTIVE[name].prompt_keys} for name in EXPERIMENT_GENERATED
}
EXPERIMENT_SCORE_INPUTS = {}
for _name in EXPERIMENT_SCORED:
    _inputs = ACTIVE[_name].score_inputs(config)
    EXPERIMENT_SCORE_INPUTS[_name] = {key: [run(p) for p in value] if isinstance(value, list) else run(value)
                                      for key, value in _inputs.items()}
EXPERIMENT_SCORE_SPECS = {name: ACTIVE[name].score_spec(config) for name in EXPERIMENT_SCORED}
EXPERIMENT_SCORE_OWN_GPU = {name: ACTIVE[name].score_needs_gpu(config) for name in EXPERIMENT_SCORED}


def experiment_item_spec(wildcards):
    """The keys that decide an experiment's items: a change to them rebuilds the items."""
    return EXPERIMENT_ITEM_SPECS[wildcards.experiment]


def experiment_prompt_inputs(wildcards):
    return EXPERIMENT_PROMPT_INPUTS[wildcards.experiment]


def experiment_prompt_spec(wildcards):
    return EXPERIMENT_PROMPT_SPECS[wildcards.experiment]


def experiment_score_inputs(wildcards):
    """Items, prompts and the renders a (experiment, reward) score job reads, and the reward's model."""
    return {"models": offline_models_input("rewards", "reward")(wildcards),
            **EXPERIMENT_SCORE_INPUTS[wildcards.experiment]}


def experiment_score_spec(wildcards):
    """What a score job runs with: the reward's registry entry and the experiment's own settings."""
    return {"reward": entry("rewards", wildcards.reward), **EXPERIMENT_SCORE_SPECS[wildcards.experiment]}


def runs_a_model(spec):
    """A registry entry that loads a checkpoint (real or tiny), unlike a probe or a procedural stand-in."""
    return bool(spec.get("gpu") or spec.get("offline_model"))


def experiment_generate_threads(wildcards):
    # Stand-ins are single-threaded numpy: one thread lets two of them run side by side.
    return 2 if runs_a_model(entry("generators", wildcards.generator)) else 1


def experiment_score_gpu(wildcards):
    """A GPU for a reward that runs a checkpoint, or for the experiment's own model (a face detector)."""
    return int(bool(entry("rewards", wildcards.reward).get("gpu", False)
                    or EXPERIMENT_SCORE_OWN_GPU[wildcards.experiment]))


def experiment_score_threads(wildcards):
    return 2 if runs_a_model(entry("rewards", wildcards.reward)) or experiment_score_gpu(wildcards) else 1


def experiment_external_input(wildcards):
    return [EXPERIMENT_EXTERNAL[wildcards.experiment][wildcards.name]]


def experiment_targets():
    """The data files the configured experiments produce (their tables are in TABLES)."""
    return [run(f) for e in ACTIVE.values() for f in e.outputs(config)]
