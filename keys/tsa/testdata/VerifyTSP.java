// VerifyTSP is the outside check of eseal's RFC 3161 tokens and TSA:
// Bouncy Castle's TSP classes, not our code, parse and validate them.
//
//   javac -cp bcprov.jar:bcpkix.jar:bcutil.jar -d OUT VerifyTSP.java
//   java -cp OUT:bcprov.jar:bcpkix.jar:bcutil.jar VerifyTSP token FILE [IMPRINT_HEX]
//   java -cp ... VerifyTSP exchange URL IMPRINT_HEX
//
// "token" reads a DER TimeStampToken (CMS ContentInfo) and validates it with
// the TSA certificate it embeds: TimeStampToken.validate checks the
// signingCertificate(V2) hash and issuer/serial, that the certificate has
// the sole critical extended key usage timeStamping and was valid at
// genTime, and the SM2 signature (BC uses the default user id
// 1234567812345678 for SM3withSM2). With IMPRINT_HEX the imprint must equal it.
//
// "exchange" is BC as the TSA client: it builds a TimeStampRequest (SM3
// imprint, nonce, certReq) with TimeStampRequestGenerator, POSTs it to URL,
// and checks the reply with TimeStampResponse.validate(request) (status,
// nonce, imprint and algorithm, certificate present) and then validates the
// token as above.
//
// Both print "OK genTime=<ISO-8601 UTC> imprint=<hex> alg=<OID> serial=<n>
// nonce=<n|none> policy=<OID>" and exit 0, or print "FAIL <reason>" and exit 1.

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.SecureRandom;
import java.security.Security;
import java.text.SimpleDateFormat;
import java.util.Arrays;
import java.util.Collection;
import java.util.TimeZone;

import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.SignerInformationVerifier;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.tsp.TimeStampRequest;
import org.bouncycastle.tsp.TimeStampRequestGenerator;
import org.bouncycastle.tsp.TimeStampResponse;
import org.bouncycastle.tsp.TimeStampToken;
import org.bouncycastle.tsp.TimeStampTokenInfo;
import org.bouncycastle.util.encoders.Hex;

public final class VerifyTSP {
    private static final ASN1ObjectIdentifier SM3 = new ASN1ObjectIdentifier("1.2.156.10197.1.401");

    public static void main(String[] args) {
        Security.addProvider(new BouncyCastleProvider());
        try {
            TimeStampToken tok;
            byte[] want = null;
            if (args.length >= 2 && args[0].equals("token")) {
                tok = new TimeStampToken(new CMSSignedData(Files.readAllBytes(Paths.get(args[1]))));
                if (args.length == 3) {
                    want = Hex.decode(args[2]);
                }
            } else if (args.length == 3 && args[0].equals("exchange")) {
                want = Hex.decode(args[2]);
                tok = exchange(args[1], want);
            } else {
                System.err.println("usage: VerifyTSP token FILE [IMPRINT_HEX] | exchange URL IMPRINT_HEX");
                System.exit(2);
                return;
            }
            validate(tok);
            TimeStampTokenInfo info = tok.getTimeStampInfo();
            if (want != null && !Arrays.equals(want, info.getMessageImprintDigest())) {
                throw new Exception("imprint " + Hex.toHexString(info.getMessageImprintDigest()) + " is not the expected " + Hex.toHexString(want));
            }
            SimpleDateFormat iso = new SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'");
            iso.setTimeZone(TimeZone.getTimeZone("UTC"));
            System.out.println("OK genTime=" + iso.format(info.getGenTime())
                    + " imprint=" + Hex.toHexString(info.getMessageImprintDigest())
                    + " alg=" + info.getMessageImprintAlgOID()
                    + " serial=" + info.getSerialNumber()
                    + " nonce=" + (info.getNonce() == null ? "none" : info.getNonce().toString())
                    + " policy=" + info.getPolicy());
        } catch (Exception e) {
            System.out.println("FAIL " + e.getClass().getSimpleName() + ": " + e.getMessage());
            System.exit(1);
        }
    }

    /** Validates the token with the TSA certificate it embeds. */
    static void validate(TimeStampToken tok) throws Exception {
        @SuppressWarnings("unchecked")
        Collection<X509CertificateHolder> certs = tok.getCertificates().getMatches(tok.getSID());
        if (certs.size() != 1) {
            throw new Exception(certs.size() + " certificates match the signer id");
        }
        X509CertificateHolder cert = certs.iterator().next();
        SignerInformationVerifier v = new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(cert);
        tok.validate(v); // throws TSPValidationException
    }

    /** BC as the client: request, POST, check the reply against the request. */
    static TimeStampToken exchange(String url, byte[] digest) throws Exception {
        TimeStampRequestGenerator gen = new TimeStampRequestGenerator();
        gen.setCertReq(true);
        BigInteger nonce = new BigInteger(63, new SecureRandom());
        TimeStampRequest req = gen.generate(SM3, digest, nonce);
        HttpURLConnection c = (HttpURLConnection) new URL(url).openConnection();
        c.setDoOutput(true);
        c.setRequestMethod("POST");
        c.setRequestProperty("Content-Type", "application/timestamp-query");
        try (OutputStream out = c.getOutputStream()) {
            out.write(req.getEncoded());
        }
        if (c.getResponseCode() != 200) {
            throw new Exception("HTTP " + c.getResponseCode());
        }
        if (!"application/timestamp-reply".equals(c.getContentType())) {
            throw new Exception("content type " + c.getContentType());
        }
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        try (InputStream in = c.getInputStream()) {
            in.transferTo(body);
        }
        TimeStampResponse resp = new TimeStampResponse(body.toByteArray());
        resp.validate(req); // throws TSPValidationException
        return resp.getTimeStampToken();
    }
}
