#!/usr/bin/env bash
# Debian's SLURM and munge for tests/test_slurm.py (a one-node cluster on loopback).
# Installs only as root with apt; anywhere else it says why and leaves the test to skip.
set -euo pipefail
need=(slurmctld slurmd munged sbatch squeue)
missing=()
for tool in "${need[@]}"; do
    PATH="/usr/sbin:/usr/bin:$PATH" command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "slurm-deps: not root with apt-get; tests/test_slurm.py will be skipped (missing: ${missing[*]})"
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge
