# How the recipes run their jobs (egs2/<corpus>/cmd.sh is a symlink to this file).
#
# train_cmd: CPU jobs (stats, formatting); cuda_cmd: training and GPU inference
# (the stage script adds --gpu N); decode_cmd: CPU inference and scoring.
#
# Backend (CFFMA_CMD_BACKEND, or edit here):
#   local  run on this machine (utils/run_jobs.sh, like Kaldi's run.pl)
#   slurm  submit Slurm job arrays through submitit; set the partition with
#          CFFMA_SLURM_PARTITION and other sbatch options with
#          --slurm_opt key=value (e.g. --slurm_opt account=myproj)
#          (CFFMA_SUBMITIT_CLUSTER=local runs the same submitit path on this
#          machine, to try it without a cluster)
cmd_backend=${CFFMA_CMD_BACKEND:-local}

case "${cmd_backend}" in
  local)
    export train_cmd="utils/run_jobs.sh --backend local"
    export cuda_cmd="utils/run_jobs.sh --backend local"
    export decode_cmd="utils/run_jobs.sh --backend local"
    ;;
  slurm)
    _part="--cluster ${CFFMA_SUBMITIT_CLUSTER:-slurm}${CFFMA_SLURM_PARTITION:+ --partition ${CFFMA_SLURM_PARTITION}}"
    export train_cmd="utils/run_jobs.sh --backend slurm ${_part} --mem 8G --time 4:00:00"
    export cuda_cmd="utils/run_jobs.sh --backend slurm ${_part} --mem 64G --num_threads 8 --time 3-00:00:00"
    export decode_cmd="utils/run_jobs.sh --backend slurm ${_part} --mem 16G --time 8:00:00"
    unset _part
    ;;
  *)
    echo "cmd.sh: unknown backend '${cmd_backend}' (local or slurm)" >&2
    return 1 2>/dev/null || exit 1
    ;;
esac
