//! Station data in HJ 212-2017 (污染物在线监控（监测）系统数据传输标准): the frame of a
//! packet, its CRC, the fields of its data segment, and the readings of surface-water
//! quality (`ST=21`) it carries, mapped to GB 3838-2002's parameters.
//!
//! A frame is `##`, four digits giving the data segment's length, the data segment, the
//! CRC16 of the data segment in four hex digits, and CRLF. The CRC is the standard's own
//! (appendix A), not CRC-16/MODBUS: the register starts at 0xFFFF; for each byte it becomes
//! `(register >> 8) ^ byte`, then eight times shifts right, XOR-ing 0xA001 when the bit
//! shifted out was 1.

use std::collections::HashSet;

use super::water::{Measure, WaterParameter};

/// The longest data segment the standard allows (its length field has four digits, and
/// the standard caps a packet's data at 1,024 bytes).
pub const MAX_DATA_BYTES: usize = 1024;

/// The system code of surface-water quality monitoring.
pub const SURFACE_WATER: &str = "21";

numbered!(
    /// The HJ 212-2017 flag of a reading (table 8). Only N and S readings are evaluated.
    DataFlag, "DATA_FLAG_", {
        /// Normal.
        N = 1, "N";
        /// The instrument was stopped.
        F = 2, "F";
        /// Maintenance.
        M = 3, "M";
        /// Entered by hand.
        S = 4, "S";
        /// Fault.
        D = 5, "D";
        /// Calibration.
        C = 6, "C";
        /// Above the measuring range.
        T = 7, "T";
        /// Communication between instrument and logger failed.
        B = 8, "B";
    }
);

impl DataFlag {
    /// Whether a reading with this flag counts in an evaluation.
    pub fn is_valid(self) -> bool {
        matches!(self, Self::N | Self::S)
    }
}

/// The CRC16 of HJ 212-2017's appendix over `data`.
pub fn crc16(data: &[u8]) -> u16 {
    let mut register: u16 = 0xFFFF;
    for byte in data {
        register = (register >> 8) ^ u16::from(*byte);
        for _ in 0..8 {
            let out = register & 1;
            register >>= 1;
            if out == 1 {
                register ^= 0xA001;
            }
        }
    }
    register
}

/// Why a packet was dropped, for the count and the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The frame is not `##`, a length, the data, a CRC and CRLF.
    Frame(&'static str),
    /// The CRC does not match the data segment.
    Crc {
        /// What the packet carried.
        sent: u16,
        /// What its data gives.
        computed: u16,
    },
    /// A field of the data segment is missing or malformed.
    Field(&'static str, String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Frame(what) => write!(f, "malformed frame: {what}"),
            Self::Crc { sent, computed } => {
                write!(
                    f,
                    "bad CRC: the packet says {sent:04X}, its data gives {computed:04X}"
                )
            }
            Self::Field(field, what) => write!(f, "field {field}: {what}"),
        }
    }
}

/// The data segment of one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// `QN`: the request number, `yyyyMMddHHmmssSSS`; a retried packet repeats it.
    pub qn: String,
    /// `ST`: the system code (21: surface water).
    pub st: String,
    /// `CN`: the command code (2011 real-time, 2051 minute, 2061 hourly, 2031 daily data).
    pub cn: String,
    /// `PW`: the station's password.
    pub pw: String,
    /// `MN`: the station's code, 24 characters.
    pub mn: String,
    /// `Flag`: bit 0 asks for an answer; bit 2 marks HJ 212-2017.
    pub flag: u8,
    /// `CP`: the command parameters, `key=value` in order.
    pub cp: Vec<(String, String)>,
}

impl Packet {
    /// Reads one frame, CRLF included.
    ///
    /// # Errors
    /// The refusal of a malformed frame, a wrong CRC or a missing or malformed field.
    pub fn parse(frame: &[u8]) -> Result<Self, Refusal> {
        let frame = frame
            .strip_suffix(b"\r\n")
            .ok_or(Refusal::Frame("it does not end with CRLF"))?;
        let rest = frame
            .strip_prefix(b"##")
            .ok_or(Refusal::Frame("it does not start with ##"))?;
        let (length, rest) = rest
            .split_at_checked(4)
            .ok_or(Refusal::Frame("no length"))?;
        let length: usize = std::str::from_utf8(length)
            .ok()
            .filter(|l| l.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|l| l.parse().ok())
            .ok_or(Refusal::Frame("the length is not four digits"))?;
        if length > MAX_DATA_BYTES {
            return Err(Refusal::Frame("the data segment is longer than 1024 bytes"));
        }
        if rest.len() != length + 4 {
            return Err(Refusal::Frame("the length does not match the data segment"));
        }
        let (data, crc) = rest
            .split_at_checked(length)
            .ok_or(Refusal::Frame("no CRC"))?;
        let sent = std::str::from_utf8(crc)
            .ok()
            .filter(|c| c.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|c| u16::from_str_radix(c, 16).ok())
            .ok_or(Refusal::Frame("the CRC is not four hex digits"))?;
        let computed = crc16(data);
        if sent != computed {
            return Err(Refusal::Crc { sent, computed });
        }
        let data = std::str::from_utf8(data)
            .map_err(|_| Refusal::Frame("the data segment is not ASCII"))?;
        Self::parse_data(data)
    }

    /// Reads a data segment: `;`-separated `key=value` fields, then `CP=&&…&&`.
    fn parse_data(data: &str) -> Result<Self, Refusal> {
        let (head, cp) = data
            .split_once("CP=&&")
            .ok_or_else(|| Refusal::Field("CP", "is missing".into()))?;
        let cp = cp
            .strip_suffix("&&")
            .ok_or_else(|| Refusal::Field("CP", "does not end with &&".into()))?;
        let mut fields = std::collections::HashMap::new();
        for part in head.split(';').filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| Refusal::Field("data", format!("{part:?} is not key=value")))?;
            if fields.insert(key, value).is_some() {
                return Err(Refusal::Field("data", format!("{key} is given twice")));
            }
        }
        let mut take = |name: &'static str| {
            fields
                .remove(name)
                .map(str::to_owned)
                .ok_or_else(|| Refusal::Field(name, "is missing".into()))
        };
        let qn = take("QN")?;
        let st = take("ST")?;
        let cn = take("CN")?;
        let pw = take("PW")?;
        let mn = take("MN")?;
        let flag = take("Flag")?;
        if qn.len() != 17 || !qn.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Refusal::Field(
                "QN",
                "must be 17 digits, yyyyMMddHHmmssSSS".into(),
            ));
        }
        if mn.len() != 24 || !mn.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Refusal::Field("MN", "must be 24 letters and digits".into()));
        }
        let flag = flag
            .parse::<u8>()
            .map_err(|_| Refusal::Field("Flag", format!("{flag:?} is not a number")))?;
        let mut seen = HashSet::new();
        let mut pairs = Vec::new();
        for part in cp.split([';', ',']).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| Refusal::Field("CP", format!("{part:?} is not key=value")))?;
            if !seen.insert(key) {
                return Err(Refusal::Field("CP", format!("{key} is given twice")));
            }
            pairs.push((key.to_owned(), value.to_owned()));
        }
        Ok(Self {
            qn,
            st,
            cn,
            pw,
            mn,
            flag,
            cp: pairs,
        })
    }

    /// Whether the station asks for an answer (`Flag` bit 0).
    pub fn wants_answer(&self) -> bool {
        self.flag & 1 == 1
    }

    /// The water-quality readings of a data packet: each factor's `-Rtd` (real-time) or
    /// `-Avg` value as a parameter of GB 3838-2002, with its `-Flag` (N when absent).
    /// Factors of no parameter (conductivity, turbidity, …) are passed over.
    ///
    /// # Errors
    /// A value that is not a decimal of at most six places, a flag that is not one of
    /// table 8's, or a parameter given twice.
    pub fn readings(&self) -> Result<Vec<Reading>, Refusal> {
        let mut readings: Vec<Reading> = Vec::new();
        let mut flags = std::collections::HashMap::new();
        for (key, value) in &self.cp {
            let Some((code, kind)) = key.split_once('-') else {
                continue;
            };
            let Some(parameter) = parameter_of(code) else {
                continue;
            };
            match kind {
                "Rtd" | "Avg" => {
                    if readings.iter().any(|r| r.parameter == parameter) {
                        return Err(Refusal::Field("CP", format!("{code} is given twice")));
                    }
                    let value = Measure::parse("value", parameter, value).map_err(|_| {
                        Refusal::Field("CP", format!("{key}={value:?} is not a value"))
                    })?;
                    readings.push(Reading {
                        parameter,
                        value,
                        flag: DataFlag::N,
                    });
                }
                "Flag" => {
                    let flag = DataFlag::from_word(value).ok_or_else(|| {
                        Refusal::Field("CP", format!("{key}={value:?} is not a flag"))
                    })?;
                    flags.insert(parameter, flag);
                }
                _ => {}
            }
        }
        for reading in &mut readings {
            if let Some(flag) = flags.get(&reading.parameter) {
                reading.flag = *flag;
            }
        }
        Ok(readings)
    }
}

/// One reading of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// The parameter.
    pub parameter: WaterParameter,
    /// Its value.
    pub value: Measure,
    /// Its flag.
    pub flag: DataFlag,
}

/// The factor codes of HJ 212-2017 that duikou maps to GB 3838-2002's parameters. The
/// metals take the codes of the dissolved form (w20138 …); the codes of the total form
/// (w20122 …) map to the same parameter.
const FACTORS: &[(&str, WaterParameter)] = &[
    ("w01010", WaterParameter::WaterTemperature),
    ("w01001", WaterParameter::Ph),
    ("w01009", WaterParameter::DissolvedOxygen),
    ("w01019", WaterParameter::PermanganateIndex),
    ("w01018", WaterParameter::Cod),
    ("w01017", WaterParameter::Bod5),
    ("w21003", WaterParameter::AmmoniaNitrogen),
    ("w21011", WaterParameter::TotalPhosphorus),
    ("w21001", WaterParameter::TotalNitrogen),
    ("w20138", WaterParameter::Copper),
    ("w20122", WaterParameter::Copper),
    ("w20139", WaterParameter::Zinc),
    ("w20123", WaterParameter::Zinc),
    ("w21017", WaterParameter::Fluoride),
    ("w20140", WaterParameter::Selenium),
    ("w20128", WaterParameter::Selenium),
    ("w20141", WaterParameter::Arsenic),
    ("w20119", WaterParameter::Arsenic),
    ("w20142", WaterParameter::Mercury),
    ("w20111", WaterParameter::Mercury),
    ("w20143", WaterParameter::Cadmium),
    ("w20115", WaterParameter::Cadmium),
    ("w20117", WaterParameter::ChromiumVi),
    ("w20144", WaterParameter::Lead),
    ("w20120", WaterParameter::Lead),
    ("w21016", WaterParameter::Cyanide),
    ("w23002", WaterParameter::VolatilePhenol),
    ("w22001", WaterParameter::Petroleum),
    ("w19002", WaterParameter::AnionicSurfactant),
    ("w21019", WaterParameter::Sulfide),
    ("w02003", WaterParameter::FecalColiform),
];

/// The parameter of an HJ 212-2017 factor code.
pub fn parameter_of(code: &str) -> Option<WaterParameter> {
    FACTORS.iter().find(|(c, _)| *c == code).map(|(_, p)| *p)
}

/// Frames `data` as a packet: `##`, its length, the data, its CRC, CRLF.
pub fn frame(data: &str) -> Vec<u8> {
    format!(
        "##{:04}{data}{:04X}\r\n",
        data.len(),
        crc16(data.as_bytes())
    )
    .into_bytes()
}

/// The answer to a packet that asks for one: `CN=9014` (data received), with its QN.
pub fn answer(packet: &Packet) -> Vec<u8> {
    frame(&format!(
        "QN={};ST=91;CN=9014;PW={};MN={};Flag=4;CP=&&&&",
        packet.qn, packet.pw, packet.mn
    ))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The standard's own example.
    const EXAMPLE: &str = "##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;\
                           MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n";

    #[test]
    fn the_standard_s_example_checks() {
        let data = &EXAMPLE.as_bytes()[6..EXAMPLE.len() - 6];
        assert_eq!(data.len(), 101);
        assert_eq!(crc16(data), 0x1C80);
        let packet = Packet::parse(EXAMPLE.as_bytes());
        let Ok(packet) = packet else {
            panic!("{packet:?}");
        };
        assert_eq!(packet.qn, "20160801085857223");
        assert_eq!(packet.cn, "1062");
        assert_eq!(packet.mn, "010000A8900016F000169DC0");
        assert!(packet.wants_answer());
        assert_eq!(packet.cp, [("RtdInterval".to_owned(), "30".to_owned())]);
    }

    #[test]
    fn it_is_not_crc16_modbus() {
        // CRC-16/MODBUS of "123456789" is 0x4B37; the standard's register steps differ.
        assert_ne!(crc16(b"123456789"), 0x4B37);
        assert_eq!(crc16(b""), 0xFFFF);
    }

    #[test]
    fn a_water_packet_gives_its_readings_with_their_flags() {
        let data = "QN=20261201080000000;ST=21;CN=2061;PW=123456;MN=420381TAOCHA000000000001;\
                    Flag=5;CP=&&DataTime=20261201070000;w01001-Avg=7.82,w01001-Flag=N;\
                    w21011-Avg=0.021,w21011-Flag=N;w21003-Avg=0.12,w21003-Flag=M;\
                    w01014-Avg=320,w01014-Flag=N&&";
        let packet = Packet::parse(&frame(data));
        let Ok(packet) = packet else {
            panic!("{packet:?}");
        };
        let readings = packet.readings();
        let Ok(readings) = readings else {
            panic!("{readings:?}");
        };
        let got: Vec<_> = readings
            .iter()
            .map(|r| (r.parameter, r.value.to_decimal(), r.flag))
            .collect();
        assert_eq!(
            got,
            [
                (WaterParameter::Ph, "7.82".to_owned(), DataFlag::N),
                (
                    WaterParameter::TotalPhosphorus,
                    "0.021".to_owned(),
                    DataFlag::N
                ),
                (
                    WaterParameter::AmmoniaNitrogen,
                    "0.12".to_owned(),
                    DataFlag::M
                ),
            ]
        );
        assert!(!DataFlag::M.is_valid() && DataFlag::S.is_valid());
        let answer = answer(&packet);
        assert!(Packet::parse(&answer).is_ok_and(|a| a.cn == "9014" && a.qn == packet.qn));
    }

    #[test]
    fn bad_frames_crcs_and_fields_are_refused_with_a_reason() {
        let good = frame(
            "QN=20261201080000000;ST=21;CN=2011;PW=123456;MN=420381TAOCHA000000000001;Flag=4;CP=&&w01001-Rtd=7.1&&",
        );
        assert!(Packet::parse(&good).is_ok());
        let mut bad_crc = good.clone();
        let at = bad_crc.len() - 3;
        bad_crc[at] = if bad_crc[at] == b'0' { b'1' } else { b'0' };
        assert!(matches!(Packet::parse(&bad_crc), Err(Refusal::Crc { .. })));
        assert!(matches!(
            Packet::parse(&good[..good.len() - 2]),
            Err(Refusal::Frame(_))
        ));
        assert!(matches!(
            Packet::parse(b"##9999\r\n"),
            Err(Refusal::Frame(_))
        ));
        let missing_mn = frame("QN=20261201080000000;ST=21;CN=2011;PW=123456;Flag=4;CP=&&&&");
        assert_eq!(
            Packet::parse(&missing_mn),
            Err(Refusal::Field("MN", "is missing".into()))
        );
        let twice = frame(
            "QN=20261201080000000;ST=21;CN=2011;PW=123456;MN=420381TAOCHA000000000001;Flag=4;CP=&&w01001-Rtd=7.1;w01001-Avg=7.2&&",
        );
        assert!(Packet::parse(&twice).is_ok_and(|p| p.readings().is_err()));
        let not_a_value = frame(
            "QN=20261201080000000;ST=21;CN=2011;PW=123456;MN=420381TAOCHA000000000001;Flag=4;CP=&&w21011-Rtd=abc&&",
        );
        assert!(Packet::parse(&not_a_value).is_ok_and(|p| p.readings().is_err()));
    }

    proptest! {
        #[test]
        fn any_bytes_are_read_or_refused_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1100)) {
            let _ = Packet::parse(&bytes).map(|p| p.readings());
        }

        #[test]
        fn every_framed_segment_passes_its_crc(data in "[ -~]{0,200}") {
            let parsed = Packet::parse(&frame(&data));
            prop_assert!(!matches!(parsed, Err(Refusal::Crc { .. }) | Err(Refusal::Frame(_))), "{parsed:?}");
        }
    }
}
