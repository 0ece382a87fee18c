package resource

// Queue settings the CDK app declares (infra/constructs/messaging) and the
// test stack (core/mototest) copies, so tests see the deployed queues' timing.
const (
	MaxReceiveCount         = 5      // deliveries before a message moves to its DLQ
	ProcessorTimeoutSeconds = 60     // the update processor's Lambda timeout
	UpdateVisibilitySeconds = 6 * 60 // six times the processor's timeout, as AWS advises for SQS event sources
	DLQVisibilitySeconds    = 30
	DLQRetentionDays        = 14 // DLQs keep messages longest: they wait for a person
	SourceRetentionDays     = 4  // the job and update queues
)
