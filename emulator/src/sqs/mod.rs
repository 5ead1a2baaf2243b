//! Amazon SQS emulation (issue 5).
