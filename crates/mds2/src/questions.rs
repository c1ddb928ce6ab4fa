//! The questions of the 2019 MDS2 form (ANSI/NEMA HN 1-2019), by the form's own ids.
//!
//! The ids and their order follow the NEMA workbook's rows as a manufacturer's filled copy
//! reproduces them (see the crate documentation for the source and what is not verified).
//! Each question's text is shortened where the workbook's wording carries examples; the
//! meaning is the workbook's. `SHAD-15` is spelt as the workbook spells it (the SAHD group),
//! so a CSV keyed by it lands on the workbook's row.

/// A control group of the form (and the DOC section).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    /// Its code, the prefix of its questions' ids (`MLDP`).
    pub code: &'static str,
    /// Its name on the form.
    pub title: &'static str,
}

/// One question of the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question {
    /// The form's id (`MLDP-4`).
    pub id: &'static str,
    /// The code of its group (`MLDP`).
    pub group: &'static str,
    /// The question, shortened.
    pub text: &'static str,
}

/// The groups, in the form's order.
pub const GROUPS: &[Group] = &[
    Group {
        code: "DOC",
        title: "Device description",
    },
    Group {
        code: "MPII",
        title: "Management of personally identifiable information",
    },
    Group {
        code: "ALOF",
        title: "Automatic logoff",
    },
    Group {
        code: "AUDT",
        title: "Audit controls",
    },
    Group {
        code: "AUTH",
        title: "Authorization",
    },
    Group {
        code: "CSUP",
        title: "Cyber security product upgrades",
    },
    Group {
        code: "DIDT",
        title: "Health data de-identification",
    },
    Group {
        code: "DTBK",
        title: "Data backup and disaster recovery",
    },
    Group {
        code: "EMRG",
        title: "Emergency access",
    },
    Group {
        code: "IGAU",
        title: "Health data integrity and authenticity",
    },
    Group {
        code: "MLDP",
        title: "Malware detection/protection",
    },
    Group {
        code: "NAUT",
        title: "Node authentication",
    },
    Group {
        code: "CONN",
        title: "Connectivity capabilities",
    },
    Group {
        code: "PAUT",
        title: "Person authentication",
    },
    Group {
        code: "PLOK",
        title: "Physical locks",
    },
    Group {
        code: "RDMP",
        title: "Roadmap for third party components in device life cycle",
    },
    Group {
        code: "SBOM",
        title: "Software bill of materials",
    },
    Group {
        code: "SAHD",
        title: "System and application hardening",
    },
    Group {
        code: "SGUD",
        title: "Security guidance",
    },
    Group {
        code: "STCF",
        title: "Health data storage confidentiality",
    },
    Group {
        code: "TXCF",
        title: "Transmission confidentiality",
    },
    Group {
        code: "TXIG",
        title: "Transmission integrity",
    },
    Group {
        code: "RMOT",
        title: "Remote service",
    },
];

macro_rules! q {
    ($group:literal, $id:expr, $text:expr) => {
        Question {
            id: $id,
            group: $group,
            text: $text,
        }
    };
}

// The six questions CSUP-2..6 ask of each kind of software; written out, since each is its
// own row of the workbook.
macro_rules! csup_kind {
    ($n:literal, $kind:literal) => {
        [
            q!("CSUP", $n, $kind),
            q!("CSUP", concat!($n, ".1"), "Does the documentation give instructions for owner/operator installation of patches or updates?"),
            q!("CSUP", concat!($n, ".2"), "Does the device require vendor or vendor-authorized service to install patches or updates?"),
            q!("CSUP", concat!($n, ".3"), "Can the device receive remote installation of patches or updates?"),
            q!("CSUP", concat!($n, ".4"), "Does the manufacturer allow third-party security updates to be installed without its approval?"),
        ]
    };
}

const CSUP_2: [Question; 5] = csup_kind!("CSUP-2", "Does the device contain an operating system?");
const CSUP_3: [Question; 5] = csup_kind!("CSUP-3", "Does the device contain drivers and firmware?");
const CSUP_4: [Question; 5] =
    csup_kind!("CSUP-4", "Does the device contain anti-malware software?");
const CSUP_5: [Question; 5] = csup_kind!(
    "CSUP-5",
    "Does the device contain non-operating-system commercial off-the-shelf components?"
);
const CSUP_6: [Question; 5] = csup_kind!(
    "CSUP-6",
    "Does the device contain other software components (asset or license management, ...)?"
);

const BEFORE_CSUP: &[Question] = &[
    q!("DOC", "DOC-1", "Manufacturer name"),
    q!("DOC", "DOC-2", "Device description"),
    q!("DOC", "DOC-3", "Device model"),
    q!("DOC", "DOC-4", "Document ID"),
    q!("DOC", "DOC-5", "Manufacturer contact information"),
    q!(
        "DOC",
        "DOC-6",
        "Intended use of the device in a network-connected environment"
    ),
    q!("DOC", "DOC-7", "Document release date"),
    q!(
        "DOC",
        "DOC-8",
        "Does the manufacturer have a coordinated vulnerability disclosure program for this device?"
    ),
    q!(
        "DOC",
        "DOC-9",
        "Is the manufacturer part of an Information Sharing and Analysis Organization (ISAO)?"
    ),
    q!(
        "DOC",
        "DOC-10",
        "Is a network or data flow diagram available?"
    ),
    q!(
        "DOC",
        "DOC-11",
        "Is the device Software as a Medical Device (SaMD)?"
    ),
    q!(
        "DOC",
        "DOC-11.1",
        "Does the SaMD contain an operating system?"
    ),
    q!(
        "DOC",
        "DOC-11.2",
        "Does the SaMD rely on an owner/operator provided operating system?"
    ),
    q!("DOC", "DOC-11.3", "Is the SaMD hosted by the manufacturer?"),
    q!("DOC", "DOC-11.4", "Is the SaMD hosted by the customer?"),
    q!(
        "MPII",
        "MPII-1",
        "Can the device display, transmit, store or modify personally identifiable information (e.g. ePHI)?"
    ),
    q!(
        "MPII",
        "MPII-2",
        "Does the device maintain personally identifiable information?"
    ),
    q!(
        "MPII",
        "MPII-2.1",
        "Temporarily in volatile memory (until power-off or reset)?"
    ),
    q!("MPII", "MPII-2.2", "Persistently on internal media?"),
    q!(
        "MPII",
        "MPII-2.3",
        "Preserved in non-volatile memory until explicitly erased?"
    ),
    q!("MPII", "MPII-2.4", "In a database?"),
    q!(
        "MPII",
        "MPII-2.5",
        "Can the device be configured to delete local PII automatically after it is stored to a long-term solution?"
    ),
    q!(
        "MPII",
        "MPII-2.6",
        "Does the device import/export PII with other systems?"
    ),
    q!(
        "MPII",
        "MPII-2.7",
        "Does the device maintain PII when powered off or during power interruptions?"
    ),
    q!(
        "MPII",
        "MPII-2.8",
        "Can a service technician remove the internal media?"
    ),
    q!(
        "MPII",
        "MPII-2.9",
        "Can PII be stored apart from the device's operating system (second drive, partition, remote storage)?"
    ),
    q!(
        "MPII",
        "MPII-3",
        "Does the device have mechanisms for transmitting, importing or exporting PII?"
    ),
    q!("MPII", "MPII-3.1", "Does the device display PII?"),
    q!(
        "MPII",
        "MPII-3.2",
        "Does the device generate hardcopy reports or images containing PII?"
    ),
    q!(
        "MPII",
        "MPII-3.3",
        "Does the device retrieve PII from or record PII to removable media?"
    ),
    q!(
        "MPII",
        "MPII-3.4",
        "Does the device transmit/receive or import/export PII via a dedicated cable (RS-232, USB, ...)?"
    ),
    q!(
        "MPII",
        "MPII-3.5",
        "Does the device transmit/receive PII via a wired network connection?"
    ),
    q!(
        "MPII",
        "MPII-3.6",
        "Does the device transmit/receive PII via a wireless connection (Wi-Fi, Bluetooth, NFC, cellular, ...)?"
    ),
    q!(
        "MPII",
        "MPII-3.7",
        "Does the device transmit/receive PII over an external network (e.g. Internet)?"
    ),
    q!(
        "MPII",
        "MPII-3.8",
        "Does the device import PII by scanning a document?"
    ),
    q!(
        "MPII",
        "MPII-3.9",
        "Does the device transmit/receive PII via a proprietary protocol?"
    ),
    q!(
        "MPII",
        "MPII-3.10",
        "Does the device use any other mechanism to transmit, import or export PII?"
    ),
    q!(
        "ALOF",
        "ALOF-1",
        "Can the device be configured to force reauthorization of logged-in users after a period of inactivity?"
    ),
    q!(
        "ALOF",
        "ALOF-2",
        "Is the length of inactivity before auto-logoff/screen lock configurable?"
    ),
    q!(
        "AUDT",
        "AUDT-1",
        "Can the device create additional audit logs or reports beyond standard operating system logs?"
    ),
    q!("AUDT", "AUDT-1.1", "Does the audit log record a user ID?"),
    q!(
        "AUDT",
        "AUDT-1.2",
        "Does other personally identifiable information exist in the audit trail?"
    ),
    q!(
        "AUDT",
        "AUDT-2",
        "Are events recorded in an audit log (which, below)?"
    ),
    q!("AUDT", "AUDT-2.1", "Successful login/logout attempts?"),
    q!("AUDT", "AUDT-2.2", "Unsuccessful login/logout attempts?"),
    q!("AUDT", "AUDT-2.3", "Modification of user privileges?"),
    q!(
        "AUDT",
        "AUDT-2.4",
        "Creation/modification/deletion of users?"
    ),
    q!(
        "AUDT",
        "AUDT-2.5",
        "Presentation of clinical or PII data (display, print)?"
    ),
    q!(
        "AUDT",
        "AUDT-2.6",
        "Creation/modification/deletion of data?"
    ),
    q!(
        "AUDT",
        "AUDT-2.7",
        "Import/export of data from removable media?"
    ),
    q!(
        "AUDT",
        "AUDT-2.8",
        "Receipt/transmission of data or commands over a network or point-to-point connection?"
    ),
    q!("AUDT", "AUDT-2.8.1", "Remote or on-site support?"),
    q!(
        "AUDT",
        "AUDT-2.8.2",
        "Application programming interface (API) and similar activity?"
    ),
    q!("AUDT", "AUDT-2.9", "Emergency access?"),
    q!("AUDT", "AUDT-2.10", "Other events (e.g. software updates)?"),
    q!(
        "AUDT",
        "AUDT-2.11",
        "Is the audit capability documented in more detail?"
    ),
    q!(
        "AUDT",
        "AUDT-3",
        "Can the owner/operator define or select which events are recorded?"
    ),
    q!(
        "AUDT",
        "AUDT-4",
        "Is a list of the data attributes captured for an event available?"
    ),
    q!("AUDT", "AUDT-4.1", "Does the audit log record date/time?"),
    q!(
        "AUDT",
        "AUDT-4.1.1",
        "Can date and time be synchronized by NTP or an equivalent time source?"
    ),
    q!("AUDT", "AUDT-5", "Can audit log content be exported?"),
    q!("AUDT", "AUDT-5.1", "Via physical media?"),
    q!(
        "AUDT",
        "AUDT-5.2",
        "Via the IHE Audit Trail and Node Authentication (ATNA) profile to a SIEM?"
    ),
    q!(
        "AUDT",
        "AUDT-5.3",
        "Via other communications (external service device, mobile applications)?"
    ),
    q!(
        "AUDT",
        "AUDT-5.4",
        "Are audit logs encrypted in transit or on storage media?"
    ),
    q!(
        "AUDT",
        "AUDT-6",
        "Can audit logs be monitored/reviewed by the owner/operator?"
    ),
    q!(
        "AUDT",
        "AUDT-7",
        "Are audit logs protected from modification?"
    ),
    q!("AUDT", "AUDT-7.1", "Are audit logs protected from access?"),
    q!(
        "AUDT",
        "AUDT-8",
        "Can audit logs be analyzed by the device?"
    ),
    q!(
        "AUTH",
        "AUTH-1",
        "Does the device prevent access by unauthorized users through login requirements or another mechanism?"
    ),
    q!(
        "AUTH",
        "AUTH-1.1",
        "Can the device use federated credentials management for authorization (LDAP, OAuth)?"
    ),
    q!(
        "AUTH",
        "AUTH-1.2",
        "Can the customer push group policies to the device (Active Directory)?"
    ),
    q!(
        "AUTH",
        "AUTH-1.3",
        "Are any special groups, organizational units or group policies required?"
    ),
    q!(
        "AUTH",
        "AUTH-2",
        "Can users be assigned different privilege levels by role (user, administrator, service)?"
    ),
    q!(
        "AUTH",
        "AUTH-3",
        "Can the owner/operator grant themselves unrestricted administrative privileges (local root or administrator)?"
    ),
    q!(
        "AUTH",
        "AUTH-4",
        "Does the device authorize or control all API access requests?"
    ),
    q!(
        "AUTH",
        "AUTH-5",
        "Does the device run in a restricted access ('kiosk') mode by default?"
    ),
    q!(
        "CSUP",
        "CSUP-1",
        "Does the device contain software or firmware that may need security updates during its life (if no, N/A below)?"
    ),
];

const AFTER_CSUP: &[Question] = &[
    q!(
        "CSUP",
        "CSUP-7",
        "Does the manufacturer notify the customer when updates are approved for installation?"
    ),
    q!(
        "CSUP",
        "CSUP-8",
        "Does the device perform automatic installation of software updates?"
    ),
    q!(
        "CSUP",
        "CSUP-9",
        "Does the manufacturer have an approved list of third-party software that can be installed on the device?"
    ),
    q!(
        "CSUP",
        "CSUP-10",
        "Can the owner/operator install manufacturer-approved third-party software themselves?"
    ),
    q!(
        "CSUP",
        "CSUP-10.1",
        "Does the system have a mechanism to prevent installation of unapproved software?"
    ),
    q!(
        "CSUP",
        "CSUP-11",
        "Does the manufacturer have a process to assess device vulnerabilities and updates?"
    ),
    q!(
        "CSUP",
        "CSUP-11.1",
        "Does the manufacturer give customers the review and approval status of updates?"
    ),
    q!(
        "CSUP",
        "CSUP-11.2",
        "Is there an update review cycle for the device?"
    ),
    q!(
        "DIDT",
        "DIDT-1",
        "Does the device provide an integral capability to de-identify PII?"
    ),
    q!(
        "DIDT",
        "DIDT-1.1",
        "Does it support de-identification profiles that comply with the DICOM standard?"
    ),
    q!(
        "DTBK",
        "DTBK-1",
        "Does the device maintain long-term primary storage of PII / patient information (e.g. PACS)?"
    ),
    q!(
        "DTBK",
        "DTBK-2",
        "Does the device have a factory reset function restoring the manufacturer's settings?"
    ),
    q!(
        "DTBK",
        "DTBK-3",
        "Does the device have an integral data backup capability to removable media?"
    ),
    q!(
        "DTBK",
        "DTBK-4",
        "Does the device have an integral data backup capability to remote storage?"
    ),
    q!(
        "DTBK",
        "DTBK-5",
        "Does the device have a backup capability for system configuration, patch and software restoration?"
    ),
    q!(
        "DTBK",
        "DTBK-6",
        "Can the device check the integrity and authenticity of a backup?"
    ),
    q!(
        "EMRG",
        "EMRG-1",
        "Does the device incorporate an emergency access ('break-glass') feature?"
    ),
    q!(
        "IGAU",
        "IGAU-1",
        "Does the device provide data integrity checking of stored health data (hash or digital signature)?"
    ),
    q!(
        "IGAU",
        "IGAU-2",
        "Does the device provide error/failure protection and recovery for stored health data (e.g. RAID-5)?"
    ),
    q!(
        "MLDP",
        "MLDP-1",
        "Is the device capable of hosting executable software?"
    ),
    q!(
        "MLDP",
        "MLDP-2",
        "Does the device support anti-malware software (or another anti-malware mechanism)?"
    ),
    q!(
        "MLDP",
        "MLDP-2.1",
        "Does the device include anti-malware software by default?"
    ),
    q!(
        "MLDP",
        "MLDP-2.2",
        "Does the device have anti-malware software available as an option?"
    ),
    q!(
        "MLDP",
        "MLDP-2.3",
        "Does the documentation allow the owner/operator to install or update anti-malware software?"
    ),
    q!(
        "MLDP",
        "MLDP-2.4",
        "Can the owner/operator independently (re-)configure anti-malware settings?"
    ),
    q!(
        "MLDP",
        "MLDP-2.5",
        "Does notification of malware detection occur in the device user interface?"
    ),
    q!(
        "MLDP",
        "MLDP-2.6",
        "Can only manufacturer-authorized persons repair systems when malware has been detected?"
    ),
    q!(
        "MLDP",
        "MLDP-2.7",
        "Are malware notifications written to a log?"
    ),
    q!(
        "MLDP",
        "MLDP-2.8",
        "Are there any restrictions on anti-malware (purchase, installation, configuration, scheduling)?"
    ),
    q!(
        "MLDP",
        "MLDP-3",
        "If MLDP-2 is no and anti-malware cannot be installed, are other compensating controls in place or available?"
    ),
    q!(
        "MLDP",
        "MLDP-4",
        "Does the device employ application whitelisting that restricts the software and services permitted to run?"
    ),
    q!(
        "MLDP",
        "MLDP-5",
        "Does the device employ a host-based intrusion detection/prevention system?"
    ),
    q!(
        "MLDP",
        "MLDP-5.1",
        "Can the host-based intrusion detection/prevention system be configured by the customer?"
    ),
    q!(
        "MLDP",
        "MLDP-5.2",
        "Can a host-based intrusion detection/prevention system be installed by the customer?"
    ),
    q!(
        "NAUT",
        "NAUT-1",
        "Does the device support node authentication, so sender and recipient of data are known to each other and authorized?"
    ),
    q!(
        "NAUT",
        "NAUT-2",
        "Are network access control mechanisms supported (internal firewall, network connection whitelist)?"
    ),
    q!(
        "NAUT",
        "NAUT-2.1",
        "Is the firewall ruleset documented and available for review?"
    ),
    q!(
        "NAUT",
        "NAUT-3",
        "Does the device use certificate-based network connection authentication?"
    ),
    q!(
        "CONN",
        "CONN-1",
        "Does the device have hardware connectivity capabilities?"
    ),
    q!(
        "CONN",
        "CONN-1.1",
        "Does the device support wireless connections?"
    ),
    q!("CONN", "CONN-1.1.1", "Does the device support Wi-Fi?"),
    q!("CONN", "CONN-1.1.2", "Does the device support Bluetooth?"),
    q!(
        "CONN",
        "CONN-1.1.3",
        "Does the device support other wireless network connectivity (LTE, Zigbee, proprietary)?"
    ),
    q!(
        "CONN",
        "CONN-1.1.4",
        "Does the device support other wireless connections (custom RF controls, wireless detectors)?"
    ),
    q!(
        "CONN",
        "CONN-1.2",
        "Does the device support physical connections?"
    ),
    q!(
        "CONN",
        "CONN-1.2.1",
        "Does the device have available RJ45 Ethernet ports?"
    ),
    q!(
        "CONN",
        "CONN-1.2.2",
        "Does the device have available USB ports?"
    ),
    q!(
        "CONN",
        "CONN-1.2.3",
        "Does the device require, use or support removable memory devices?"
    ),
    q!(
        "CONN",
        "CONN-1.2.4",
        "Does the device support other physical connectivity?"
    ),
    q!(
        "CONN",
        "CONN-2",
        "Does the manufacturer provide a list of the network ports and protocols the device uses or may use?"
    ),
    q!(
        "CONN",
        "CONN-3",
        "Can the device communicate with other systems within the customer environment?"
    ),
    q!(
        "CONN",
        "CONN-4",
        "Can the device communicate with systems external to the customer environment (e.g. a service host)?"
    ),
    q!(
        "CONN",
        "CONN-5",
        "Does the device make or receive API calls?"
    ),
    q!(
        "CONN",
        "CONN-6",
        "Does the device require an internet connection for its intended use?"
    ),
    q!(
        "CONN",
        "CONN-7",
        "Does the device support Transport Layer Security (TLS)?"
    ),
    q!("CONN", "CONN-7.1", "Is TLS configurable?"),
    q!(
        "CONN",
        "CONN-8",
        "Does the device provide operator control functionality from a separate device (e.g. telemedicine)?"
    ),
    q!(
        "PAUT",
        "PAUT-1",
        "Does the device support and enforce unique IDs and passwords for all users and roles (incl. service accounts)?"
    ),
    q!(
        "PAUT",
        "PAUT-1.1",
        "Does the device enforce authentication of unique IDs and passwords for all users and roles?"
    ),
    q!(
        "PAUT",
        "PAUT-2",
        "Can the device authenticate users through an external authentication service (AD, LDAP, OAuth, ...)?"
    ),
    q!(
        "PAUT",
        "PAUT-3",
        "Can the device lock out a user after a number of unsuccessful logon attempts?"
    ),
    q!(
        "PAUT",
        "PAUT-4",
        "Are all default accounts (technician service, administrator) listed in the documentation?"
    ),
    q!("PAUT", "PAUT-5", "Can all passwords be changed?"),
    q!(
        "PAUT",
        "PAUT-6",
        "Can the device enforce account passwords that meet the organization's complexity rules?"
    ),
    q!(
        "PAUT",
        "PAUT-7",
        "Does the device support account passwords that expire periodically?"
    ),
    q!(
        "PAUT",
        "PAUT-8",
        "Does the device support multi-factor authentication?"
    ),
    q!(
        "PAUT",
        "PAUT-9",
        "Does the device support single sign-on (SSO)?"
    ),
    q!(
        "PAUT",
        "PAUT-10",
        "Can user accounts be disabled/locked on the device?"
    ),
    q!(
        "PAUT",
        "PAUT-11",
        "Does the device support biometric controls?"
    ),
    q!(
        "PAUT",
        "PAUT-12",
        "Does the device support physical tokens (e.g. badge access)?"
    ),
    q!(
        "PAUT",
        "PAUT-13",
        "Does the device support group authentication (e.g. hospital teams)?"
    ),
    q!(
        "PAUT",
        "PAUT-14",
        "Does the application or device store or manage authentication credentials?"
    ),
    q!(
        "PAUT",
        "PAUT-14.1",
        "Are credentials stored using a secure method?"
    ),
    q!(
        "PLOK",
        "PLOK-1",
        "Is the device software only (if yes, N/A below)?"
    ),
    q!(
        "PLOK",
        "PLOK-2",
        "Are all components maintaining PII (other than removable media) physically secure (not removable without tools)?"
    ),
    q!(
        "PLOK",
        "PLOK-3",
        "Are all components maintaining PII (other than removable media) secured behind an individually keyed lock?"
    ),
    q!(
        "PLOK",
        "PLOK-4",
        "Can the customer attach a physical lock to restrict access to removable media?"
    ),
    q!(
        "RDMP",
        "RDMP-1",
        "Was a secure software development process (ISO/IEC 27034, IEC 62304) followed?"
    ),
    q!(
        "RDMP",
        "RDMP-2",
        "Does the manufacturer evaluate included third-party software for secure development practices?"
    ),
    q!(
        "RDMP",
        "RDMP-3",
        "Does the manufacturer maintain a source of information on software support dates and updates?"
    ),
    q!(
        "RDMP",
        "RDMP-4",
        "Does the manufacturer have a plan for managing third-party component end-of-life?"
    ),
    q!("SBOM", "SBOM-1", "Is the SBoM for this product available?"),
    q!(
        "SBOM",
        "SBOM-2",
        "Does the SBoM follow a standard or common method of describing software components?"
    ),
    q!(
        "SBOM",
        "SBOM-2.1",
        "Are the software components identified?"
    ),
    q!(
        "SBOM",
        "SBOM-2.2",
        "Are the developers/manufacturers of the software components identified?"
    ),
    q!(
        "SBOM",
        "SBOM-2.3",
        "Are the major version numbers of the software components identified?"
    ),
    q!(
        "SBOM",
        "SBOM-2.4",
        "Are any additional descriptive elements identified?"
    ),
    q!(
        "SBOM",
        "SBOM-3",
        "Does the device include a command or process to generate a list of the software components installed?"
    ),
    q!("SBOM", "SBOM-4", "Is there an update process for the SBoM?"),
    q!(
        "SAHD",
        "SAHD-1",
        "Is the device hardened in accordance with any industry standards?"
    ),
    q!(
        "SAHD",
        "SAHD-2",
        "Has the device received any cybersecurity certifications?"
    ),
    q!(
        "SAHD",
        "SAHD-3",
        "Does the device employ any mechanisms for software integrity checking?"
    ),
    q!(
        "SAHD",
        "SAHD-3.1",
        "Does a mechanism (hash, checksum, digital signature) ensure the installed software is manufacturer-authorized?"
    ),
    q!(
        "SAHD",
        "SAHD-3.2",
        "Does a mechanism (hash, checksum, digital signature) ensure software updates are manufacturer-authorized?"
    ),
    q!(
        "SAHD",
        "SAHD-4",
        "Can the owner/operator perform software integrity checks (verify the system has not been modified or tampered with)?"
    ),
    q!(
        "SAHD",
        "SAHD-5",
        "Can the system implement file-level, patient-level or other access controls?"
    ),
    q!(
        "SAHD",
        "SAHD-5.1",
        "Does the device provide role-based access controls?"
    ),
    q!(
        "SAHD",
        "SAHD-6",
        "Are any system or user accounts restricted or disabled by the manufacturer at delivery?"
    ),
    q!(
        "SAHD",
        "SAHD-6.1",
        "Are any system or user accounts configurable by the end user after initial configuration?"
    ),
    q!(
        "SAHD",
        "SAHD-6.2",
        "Does this include restricting accounts such as service technicians to least privilege?"
    ),
    q!(
        "SAHD",
        "SAHD-7",
        "Are all shared resources (file shares) not required for the intended use disabled?"
    ),
    q!(
        "SAHD",
        "SAHD-8",
        "Are all communication ports and protocols not required for the intended use disabled?"
    ),
    q!(
        "SAHD",
        "SAHD-9",
        "Are all services (telnet, FTP, IIS, ...) not required for the intended use deleted/disabled?"
    ),
    q!(
        "SAHD",
        "SAHD-10",
        "Are all applications (COTS and OS-included) not required for the intended use deleted/disabled?"
    ),
    q!(
        "SAHD",
        "SAHD-11",
        "Can the device prohibit boot from uncontrolled or removable media?"
    ),
    q!(
        "SAHD",
        "SAHD-12",
        "Can unauthorized software or hardware be installed on the device without physical tools?"
    ),
    q!(
        "SAHD",
        "SAHD-13",
        "Does the documentation include information on operational network security scanning by users?"
    ),
    q!(
        "SAHD",
        "SAHD-14",
        "Can the device be hardened beyond the default provided state?"
    ),
    q!(
        "SAHD",
        "SAHD-14.1",
        "Are instructions available from the vendor for increased hardening?"
    ),
    q!(
        "SAHD",
        "SHAD-15",
        "Can the system prevent access to BIOS or other bootloaders during boot?"
    ),
    q!(
        "SAHD",
        "SAHD-16",
        "Have additional hardening methods not included above been used?"
    ),
    q!(
        "SGUD",
        "SGUD-1",
        "Does the device include security documentation for the owner/operator?"
    ),
    q!(
        "SGUD",
        "SGUD-2",
        "Can the device permanently delete data from the device or media, with instructions?"
    ),
    q!("SGUD", "SGUD-3", "Are all access accounts documented?"),
    q!(
        "SGUD",
        "SGUD-3.1",
        "Can the owner/operator manage password control for all accounts?"
    ),
    q!(
        "SGUD",
        "SGUD-4",
        "Does the documentation recommend compensating controls for the device?"
    ),
    q!("STCF", "STCF-1", "Can the device encrypt data at rest?"),
    q!(
        "STCF",
        "STCF-1.1",
        "Is all data encrypted or otherwise protected?"
    ),
    q!(
        "STCF",
        "STCF-1.2",
        "Is the data encryption capability configured by default?"
    ),
    q!(
        "STCF",
        "STCF-1.3",
        "Are instructions available to the customer to configure encryption?"
    ),
    q!(
        "STCF",
        "STCF-2",
        "Can the encryption keys be changed or configured?"
    ),
    q!(
        "STCF",
        "STCF-3",
        "Is the data stored in a database located on the device?"
    ),
    q!(
        "STCF",
        "STCF-4",
        "Is the data stored in a database external to the device?"
    ),
    q!(
        "TXCF",
        "TXCF-1",
        "Can PII be transmitted only via a point-to-point dedicated cable?"
    ),
    q!(
        "TXCF",
        "TXCF-2",
        "Is PII encrypted prior to transmission via a network or removable media?"
    ),
    q!(
        "TXCF",
        "TXCF-2.1",
        "If data is not encrypted by default, can the customer configure encryption options?"
    ),
    q!(
        "TXCF",
        "TXCF-3",
        "Is PII transmission restricted to a fixed list of network destinations?"
    ),
    q!(
        "TXCF",
        "TXCF-4",
        "Are connections limited to authenticated systems?"
    ),
    q!(
        "TXCF",
        "TXCF-5",
        "Are secure transmission methods supported/implemented (DICOM, HL7, IEEE 11073)?"
    ),
    q!(
        "TXIG",
        "TXIG-1",
        "Does the device support a mechanism (e.g. digital signatures) to ensure data is not modified in transmission?"
    ),
    q!(
        "TXIG",
        "TXIG-2",
        "Does the device include multiple sub-components connected by external cables?"
    ),
    q!(
        "RMOT",
        "RMOT-1",
        "Does the device permit remote service connections for device analysis or repair?"
    ),
    q!(
        "RMOT",
        "RMOT-1.1",
        "Can the owner/operator initiate remote service sessions for device analysis or repair?"
    ),
    q!(
        "RMOT",
        "RMOT-1.2",
        "Is there an indicator for an enabled and active remote session?"
    ),
    q!(
        "RMOT",
        "RMOT-1.3",
        "Can patient data be accessed or viewed from the device during the remote session?"
    ),
    q!(
        "RMOT",
        "RMOT-2",
        "Does the device permit or use remote service connections for predictive maintenance data?"
    ),
    q!(
        "RMOT",
        "RMOT-3",
        "Does the device have any other remotely accessible functionality (software updates, remote training)?"
    ),
];

/// Every question, in the form's order.
pub fn all() -> impl Iterator<Item = &'static Question> {
    BEFORE_CSUP
        .iter()
        .chain(CSUP_2.iter())
        .chain(CSUP_3.iter())
        .chain(CSUP_4.iter())
        .chain(CSUP_5.iter())
        .chain(CSUP_6.iter())
        .chain(AFTER_CSUP.iter())
}

/// The question with this id.
#[must_use]
pub fn find(id: &str) -> Option<&'static Question> {
    all().find(|q| q.id == id)
}

/// The group with this code.
#[must_use]
pub fn group(code: &str) -> Option<&'static Group> {
    GROUPS.iter().find(|g| g.code == code)
}
