// Runs ITK's N4BiasFieldCorrectionImageFilter on a raw float32 volume [D,H,W] (x fastest) with a uint8 mask, and
// writes the log bias field it estimated on the same grid (float32). Used once to make test fixtures for
// @mriseg/data's n4 (see README.md beside this file).
//
// n4ref in.f32 mask.u8 D H W levels iters controlPoints bins fwhm noise convergence field.f32 lattice.f32
// (the lattice: the control points of the log field, x fastest, (spans + 3) a side)
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "itkBSplineControlPointImageFilter.h"
#include "itkImage.h"
#include "itkImportImageFilter.h"
#include "itkN4BiasFieldCorrectionImageFilter.h"

using Image = itk::Image<float, 3>;
using Mask = itk::Image<unsigned char, 3>;

template <typename T>
std::vector<T> readRaw(const char * path, size_t n) {
  std::vector<T> v(n);
  std::ifstream f(path, std::ios::binary);
  f.read(reinterpret_cast<char *>(v.data()), n * sizeof(T));
  if (!f) {
    std::fprintf(stderr, "%s: short read\n", path);
    std::exit(2);
  }
  return v;
}

template <typename TImage>
typename TImage::Pointer wrap(std::vector<typename TImage::PixelType> & data, size_t D, size_t H, size_t W) {
  using Importer = itk::ImportImageFilter<typename TImage::PixelType, 3>;
  auto importer = Importer::New();
  typename Importer::SizeType size;
  size[0] = W;
  size[1] = H;
  size[2] = D;
  typename Importer::IndexType start;
  start.Fill(0);
  typename Importer::RegionType region;
  region.SetIndex(start);
  region.SetSize(size);
  importer->SetRegion(region);
  importer->SetImportPointer(data.data(), data.size(), false);
  importer->Update();
  typename TImage::Pointer out = importer->GetOutput();
  out->DisconnectPipeline();
  return out;
}

int main(int argc, char ** argv) {
  if (argc != 15) {
    std::fprintf(stderr, "usage: n4ref in.f32 mask.u8 D H W levels iters controlPoints bins fwhm noise convergence field.f32 lattice.f32\n");
    return 1;
  }
  const size_t D = std::atoi(argv[3]), H = std::atoi(argv[4]), W = std::atoi(argv[5]);
  const unsigned levels = std::atoi(argv[6]);
  const unsigned iters = std::atoi(argv[7]);
  const unsigned cps = std::atoi(argv[8]);
  const size_t n = D * H * W;
  auto img = readRaw<float>(argv[1], n);
  auto msk = readRaw<unsigned char>(argv[2], n);
  auto image = wrap<Image>(img, D, H, W);
  auto mask = wrap<Mask>(msk, D, H, W);

  using N4 = itk::N4BiasFieldCorrectionImageFilter<Image, Mask, Image>;
  auto n4 = N4::New();
  n4->SetInput(image);
  n4->SetMaskImage(mask);
  N4::ArrayType levelArray;
  levelArray.Fill(levels);
  n4->SetNumberOfFittingLevels(levelArray);
  N4::ArrayType cpArray;
  cpArray.Fill(cps);
  n4->SetNumberOfControlPoints(cpArray);
  N4::VariableSizeArrayType iterations(levels);
  iterations.Fill(iters);
  n4->SetMaximumNumberOfIterations(iterations);
  n4->SetNumberOfHistogramBins(std::atoi(argv[9]));
  n4->SetBiasFieldFullWidthAtHalfMaximum(std::atof(argv[10]));
  n4->SetWienerFilterNoise(std::atof(argv[11]));
  n4->SetConvergenceThreshold(std::atof(argv[12]));
  n4->SetSplineOrder(3);
  n4->Update();

  using Reconstructer = itk::BSplineControlPointImageFilter<N4::BiasFieldControlPointLatticeType, N4::ScalarImageType>;
  auto rec = Reconstructer::New();
  rec->SetInput(n4->GetLogBiasFieldControlPointLattice());
  rec->SetOrigin(image->GetOrigin());
  rec->SetSpacing(image->GetSpacing());
  rec->SetDirection(image->GetDirection());
  rec->SetSize(image->GetLargestPossibleRegion().GetSize());
  rec->SetSplineOrder(3);
  rec->Update();
  std::vector<float> out(n);
  itk::ImageRegionConstIterator<N4::ScalarImageType> it(rec->GetOutput(), rec->GetOutput()->GetLargestPossibleRegion());
  for (size_t i = 0; !it.IsAtEnd(); ++it, ++i) out[i] = it.Get()[0];
  std::ofstream f(argv[13], std::ios::binary);
  f.write(reinterpret_cast<const char *>(out.data()), n * sizeof(float));
  const auto * lattice = n4->GetLogBiasFieldControlPointLattice();
  std::vector<float> phi;
  itk::ImageRegionConstIterator<N4::BiasFieldControlPointLatticeType> lt(lattice, lattice->GetLargestPossibleRegion());
  for (; !lt.IsAtEnd(); ++lt) phi.push_back(lt.Get()[0]);
  std::ofstream g(argv[14], std::ios::binary);
  g.write(reinterpret_cast<const char *>(phi.data()), phi.size() * sizeof(float));
  const auto size = lattice->GetLargestPossibleRegion().GetSize();
  std::printf("%lu %lu %lu\n", size[2], size[1], size[0]);
  std::fprintf(stderr, "levels %u, last level: %u iterations, convergence %g\n", levels, n4->GetElapsedIterations(),
               n4->GetCurrentConvergenceMeasurement());
  return 0;
}
