#!/usr/bin/env bash
# Job runner used through cmd.sh (like Kaldi's run.pl / slurm.pl):
#   utils/run_jobs.sh [--backend local|slurm] [--gpu N] [--mem 8G] [--num_threads N]
#                     [--max_jobs_run N] [--time MIN] [--partition P] [JOB=1:N] LOG CMD...
# See espnet_cffma/recipe/jobs.py for the details.
exec "${CFFMA_PYTHON:-python}" -m espnet_cffma.recipe.jobs "$@"
