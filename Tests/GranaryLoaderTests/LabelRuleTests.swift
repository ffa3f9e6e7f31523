@testable import GranaryLoader
import Testing

/// Label extraction from sample paths, and the option strings that decide whether an index fits.
@Suite struct LabelRuleTests {
    @Test func pathComponentsCountFromEitherEnd() {
        #expect(LabelRule.pathComponent(-2).component(of: "n01440764/img_001.JPEG") == "n01440764")
        #expect(LabelRule.pathComponent(0).component(of: "train/cat/a/b.jpg") == "train")
        #expect(LabelRule.pathComponent(1).component(of: "train/cat/a/b.jpg") == "cat")
        #expect(LabelRule.pathComponent(-1).component(of: "train/cat/b.jpg") == "b.jpg")
        #expect(LabelRule.pathComponent(-2).component(of: "top.jpg") == nil)
        #expect(LabelRule.pathComponent(3).component(of: "a/b") == nil)
        #expect(LabelRule.member("cls").component(of: "a/b") == nil)
        #expect(LabelRule.none.component(of: "a/b") == nil)
    }

    @Test func extensionsAreCaseInsensitiveAndOptionsCanonical() {
        #expect(DatasetBuilder.fileExtension("a/B.JPEG") == "jpeg")
        #expect(DatasetBuilder.fileExtension("a/noext") == "" && DatasetBuilder.fileExtension(".hidden") == "")
        #expect(DatasetFormat.files(extensions: ["PNG", "jpg"]).canonical == DatasetFormat.files(extensions: ["jpg", "png"]).canonical)
        #expect(DatasetFormat.tarShards.canonical != DatasetFormat.files(extensions: []).canonical)
        #expect(LabelRule.pathComponent(-2).canonical != LabelRule.pathComponent(2).canonical)
    }

    @Test func configurationErrorsNameTheField() {
        let cases: [(LoaderConfiguration, String)] = [
            (LoaderConfiguration(batchSize: 0), "batchSize"), (LoaderConfiguration(worldSize: 0), "worldSize"),
            (LoaderConfiguration(rank: 3, worldSize: 2), "rank"), (LoaderConfiguration(concurrentReads: 0), "concurrentReads"),
            (LoaderConfiguration(prefetchBatches: -1), "prefetchBatches"), (LoaderConfiguration(metadataCacheSeconds: -1), "metadataCacheSeconds"),
        ]
        for (config, field) in cases {
            do {
                try config.validate()
                Issue.record("\(field): accepted")
            } catch {
                guard case let .invalidConfiguration(f, _) = error else { Issue.record("\(error)"); continue }
                #expect(f == field)
            }
        }
        #expect((try? LoaderConfiguration().validate()) != nil)
    }
}
