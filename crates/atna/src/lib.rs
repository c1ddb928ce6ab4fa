//! placeholder: DICOM audit messages and syslog transport (issue 3).
