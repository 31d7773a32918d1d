//! Decisions on calls that wait for a person (`tools.NAME.approval: required`),
//! made through the API: `claw_jobs::Store::decide` against this stack's jobs
//! table and queue, the same write `claw jobs approve|reject` makes.

pub use claw_jobs::Decided;

use crate::aws::queue_url;
use crate::deadline::now_epoch_s;
use crate::jobs::Jobs;

impl Jobs<'_> {
    pub async fn decide(
        &self,
        job_id: &str,
        approved: bool,
        by: Option<&str>,
    ) -> Result<Decided, String> {
        let url = queue_url(self.region, self.account, self.queue);
        let store = claw_jobs::Store {
            ddb: self.aws.dynamodb().await,
            sqs: self.aws.sqs().await,
            table: self.table,
            queue_url: &url,
        };
        store.decide(job_id, approved, by, now_epoch_s()).await
    }
}
