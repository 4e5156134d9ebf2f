/**
 * A lead's job id: the lead id itself (so an enqueue is idempotent by lead), escaped where BullMQ reserves the form
 * (an all-digit id, a ':').
 */
export const jobIdOf = (leadId: string): string =>
  /^\d+$/.test(leadId) || leadId.includes(":") ? `lead-${leadId.replaceAll(":", "%3A")}` : leadId

/** The lead id a job id stands for (the inverse of `jobIdOf`). */
export const leadIdOfJob = (jobId: string): string =>
  jobId.startsWith("lead-") && (/^lead-\d+$/.test(jobId) || jobId.includes("%3A"))
    ? jobId.slice("lead-".length).replaceAll("%3A", ":")
    : jobId
