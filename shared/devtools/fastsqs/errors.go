package fastsqs

import (
	"fmt"
	"net/http"
)

// sqsError is an SQS API error as the JSON protocol carries it: the HTTP
// status, the error shape name the client matches in "__type"
// ("com.amazonaws.sqs#<shape>"), and the query-protocol code of the
// x-amzn-query-error header, which the client reports as ErrorCode() (the
// sqs client is query-compatible, so callers see the codes they saw before
// SQS spoke JSON).
type sqsError struct {
	status int
	shape  string
	query  string
	msg    string
}

func (e *sqsError) Error() string { return e.query + ": " + e.msg }

// Modelled errors: shape, status and query code as the sqs client's schemas
// give them.

func errQueueDoesNotExist() *sqsError {
	return &sqsError{http.StatusBadRequest, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",
		"The specified queue does not exist."}
}

func errQueueNameExists(name, attr string) *sqsError {
	return &sqsError{http.StatusBadRequest, "QueueNameExists", "QueueAlreadyExists",
		fmt.Sprintf("A queue already exists with the same name (%s) and a different value for attribute %s", name, attr)}
}

func errReceiptHandleIsInvalid(handle, why string) *sqsError {
	return &sqsError{http.StatusNotFound, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid",
		fmt.Sprintf("The input receipt handle %q is not a valid receipt handle%s.", handle, why)}
}

func errEmptyBatch() *sqsError {
	return &sqsError{http.StatusBadRequest, "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest",
		"There should be at least one entry in the request."}
}

func errTooManyEntries(n int) *sqsError {
	return &sqsError{http.StatusBadRequest, "TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
		fmt.Sprintf("Maximum number of entries per request are 10. You have sent %d.", n)}
}

func errBatchIDsNotDistinct(id string) *sqsError {
	return &sqsError{http.StatusBadRequest, "BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
		fmt.Sprintf("Id %s repeated.", id)}
}

func errInvalidBatchEntryID(id string) *sqsError {
	return &sqsError{http.StatusBadRequest, "InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId",
		fmt.Sprintf("A batch entry id (%q) can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.", id)}
}

func errBatchTooLong(size, limit int) *sqsError {
	return &sqsError{http.StatusBadRequest, "BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong",
		fmt.Sprintf("Batch requests cannot be longer than %d bytes. You have sent %d bytes.", limit, size)}
}

func errInvalidMessageContents() *sqsError {
	return &sqsError{http.StatusBadRequest, "InvalidMessageContents", "InvalidMessageContents",
		"Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF."}
}

func errInvalidAttributeName(name string) *sqsError {
	return &sqsError{http.StatusBadRequest, "InvalidAttributeName", "InvalidAttributeName",
		fmt.Sprintf("Unknown Attribute %s.", name)}
}

func errInvalidAttributeValue(format string, args ...any) *sqsError {
	return &sqsError{http.StatusBadRequest, "InvalidAttributeValue", "InvalidAttributeValue", fmt.Sprintf(format, args...)}
}

// Errors the sqs client does not model: it reports them as a
// smithy.GenericAPIError whose code is the query code.

func errInvalidParameter(format string, args ...any) *sqsError {
	return &sqsError{http.StatusBadRequest, "InvalidParameterValue", "InvalidParameterValue", fmt.Sprintf(format, args...)}
}

// errInvalidValue is SQS's "Value x for parameter P is invalid. Reason: ...".
func errInvalidValue(value any, param, reason string) *sqsError {
	return errInvalidParameter("Value %v for parameter %s is invalid. Reason: %s", value, param, reason)
}

func errMissingParameter(name string) *sqsError {
	return &sqsError{http.StatusBadRequest, "MissingParameter", "MissingParameter",
		fmt.Sprintf("The request must contain the parameter %s.", name)}
}

func errInvalidCombination(msg string) *sqsError {
	return &sqsError{http.StatusBadRequest, "InvalidParameterCombination", "InvalidParameterCombination", msg}
}

func errSerialization(err error) *sqsError {
	return &sqsError{http.StatusBadRequest, "SerializationException", "InvalidParameterValue",
		fmt.Sprintf("The request body is not valid JSON for this operation: %v", err)}
}

func errUnknownOperation(target string) *sqsError {
	return &sqsError{http.StatusBadRequest, "UnknownOperationException", "InvalidAction",
		fmt.Sprintf("fastsqs does not implement %q.", target)}
}
